import Foundation
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
import NodeAgent
import NodeNetwork
import Synchronization
import TestLab
import Testing

/// The whole agent (informers, rendering, state machine, actions) with stand-ins for keepalived, netlink and the raw
/// sockets: its decisions checked in milliseconds, without a namespace. The same paths run for real in
/// `SoleHolderLabTests` and the other lab suites.
@Suite("Agent with stand-ins (no I/O)")
struct NodeAgentSeamTests {
    final class Interfaces: InterfaceAddressing, @unchecked Sendable {
        let state = Mutex<[InterfaceAddress]>([])
        let mac: [UInt8] = [0x02, 0, 0, 0, 0, 0x11]
        let eth0 = Link(index: 2, name: "eth0")

        init() {
            state.withLock {
                $0 = [
                    InterfaceAddress(
                        address: try! IPAddress("192.0.2.11"), prefixLength: 24, interfaceIndex: 2, flags: 0)
                ]
            }
        }
        var addresses: [IPAddress] { state.withLock { $0.map(\.address) } }

        func link(holding address: IPAddress) throws(NodeNetworkError) -> Link { eth0 }
        func addresses(on link: Link?) throws(NodeNetworkError) -> [InterfaceAddress] {
            state.withLock { list in list.filter { link == nil || $0.interfaceIndex == link?.index } }
        }
        func remove(_ address: IPAddress, prefixLength: Int?, from link: Link) throws(NodeNetworkError) {
            state.withLock { $0.removeAll { $0.address == address && $0.interfaceIndex == link.index } }
        }
        func add(_ address: IPAddress, prefixLength: Int?, to link: Link) throws(NodeNetworkError) {
            state.withLock { list in
                guard !list.contains(where: { $0.address == address && $0.interfaceIndex == link.index }) else {
                    return
                }
                list.append(
                    InterfaceAddress(
                        address: address, prefixLength: prefixLength ?? address.family.bitWidth,
                        interfaceIndex: link.index, flags: 0))
            }
        }
        func hardwareAddress(of link: Link) throws(NodeNetworkError) -> [UInt8] { mac }
        func link(named name: String) throws(NodeNetworkError) -> Link {
            switch name {
            case "eth0": return eth0
            case "lo": return Link(index: 1, name: "lo")
            default: throw NodeNetworkError(.noSuchInterface, "no interface \(name)")
            }
        }
        func links() throws(NodeNetworkError) -> [Link] { [Link(index: 1, name: "lo"), eth0] }
        func routes(toward addresses: Set<IPAddress>) throws(NodeNetworkError) -> [IPAddress: Route] { [:] }
    }

    actor Keepalived: KeepalivedProcess {
        nonisolated let paths: KeepalivedSupervisor.Paths
        private(set) var starts = 0
        private(set) var stops = 0
        private var running = false
        /// While set, `start()` waits until `openGate()`: a keepalived slow to start (a busy node).
        private var gated = false
        private var gate: CheckedContinuation<Void, Never>?
        /// The configuration when each start began and when it returned: the agent must not rewrite it in between.
        private(set) var configAtStart: [(began: String, returned: String)] = []

        /// SIGHUPs taken, and how many of the first ones it takes without ever re-reading its configuration.
        nonisolated let reloads = Mutex<(sent: Int, ignored: Int)>((0, 0))

        init(stateDirectory: String, ignoringReloads ignored: Int = 0) {
            paths = .init(executable: "/nonexistent", stateDirectory: stateDirectory)
            reloads.withLock { $0.ignored = ignored }
        }

        var isRunning: Bool { running }
        func stopOrphan() async {}
        func start() async throws(AgentError) -> KeepalivedSupervisor.Run? {
            guard !running else { return nil }
            running = true
            starts += 1
            let began = (try? String(contentsOfFile: paths.config, encoding: .utf8)) ?? ""
            if gated { await withCheckedContinuation { gate = $0 } }
            configAtStart.append((began, (try? String(contentsOfFile: paths.config, encoding: .utf8)) ?? ""))
            return KeepalivedSupervisor.Run(generation: starts)
        }
        func closeGate() { gated = true }
        func openGate() {
            gated = false
            gate?.resume()
            gate = nil
        }
        var isWaitingAtGate: Bool { gate != nil }
        func watch(_ run: KeepalivedSupervisor.Run) async -> Int32? {
            try? await Task.sleep(for: .seconds(3600))
            return nil
        }
        func markConfirmed() async {}
        func reload() async -> KeepalivedSupervisor.ReloadOutcome {
            guard running else { return .notRunning }
            reloads.withLock { $0.sent += 1 }
            return .sent
        }
        func stop() async {
            running = false
            stops += 1
        }
        nonisolated func logOffset() -> UInt64 { 0 }
        nonisolated func reloadCompleted(after offset: UInt64) -> Bool { reloads.withLock { $0.sent > $0.ignored } }
    }

    final class Packets: PacketSending, Sendable {
        let announced = Mutex<[IPAddress]>([])
        func send(
            _ advertisement: VRRPAdvertisement, from source: IPAddress, to destinations: [IPAddress], interface: String
        )
            throws(NodeNetworkError)
        {}
        func announce(_ address: IPAddress, hardwareAddress: [UInt8], on link: Link) throws(NodeNetworkError) {
            announced.withLock { $0.append(address) }
        }
    }

    /// The agent of node "a" holds the Local VIP only it may hold (netlink, then an announcement), keeps it out of
    /// keepalived.conf, and leaves it on the interface when it stops; the elected VIP goes with keepalived.
    @Test func aVIPOnlyThisNodeMayHoldIsHeldAnnouncedAndKeptAtStop() async throws {
        let api = InMemoryAPIServer()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("klb-seam-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var node = Node()
        node.metadata = ObjectMeta(name: "a")
        node.json["status"] = ["addresses": [["type": "InternalIP", "address": "192.0.2.11"]]]
        _ = try await api.create(node)
        let elected = try IPAddress("203.0.113.65")
        let only = try IPAddress("203.0.113.66")
        let plan = try VRRPPlan(
            cluster: "fcp", nodes: ["a"],
            instances: [
                .init(vrid: 10, family: .ipv4, preferred: 0, addresses: [elected, only], allowedNodes: [only: [0]])
            ])
        _ = try await api.create(
            ConfigMap(name: "vip-configmap", namespace: "kube-system", data: [VRRPPlan.dataKey: plan.json()]))

        let interfaces = Interfaces()
        let keepalived = Keepalived(stateDirectory: directory)
        let packets = Packets()
        let agent = NodeAgent(
            client: api,
            configuration: AgentConfiguration(nodeName: "a", stateDirectory: directory, verifyInterval: .seconds(60)),
            addressing: interfaces, keepalived: keepalived, packets: packets)
        let running = Task { try await agent.run() }

        // Milliseconds alone; beside the lab suites, whose process waits may hold both threads of the pool for seconds.
        // The address goes on before keepalived starts: wait for both.
        let settled = await eventually(.seconds(60)) {
            let started = await keepalived.starts
            return interfaces.addresses.contains(only) && started == 1
                && FileManager.default.fileExists(atPath: keepalived.paths.config)
        }
        #expect(settled)
        #expect(packets.announced.withLock { $0 } == [only], "told the neighbours once")
        #expect(await keepalived.starts == 1)
        let config = try String(contentsOfFile: keepalived.paths.config, encoding: .utf8)
        #expect(config.contains("\(elected)/32") && !config.contains("\(only)/32"), "\(config)")
        #expect(await agent.heldAddresses.contains(only), "published as held")

        // keepalived holds the elected VIP while master; the agent stops: it goes, the agent's own stays.
        try interfaces.add(elected, prefixLength: 32, to: interfaces.eth0)
        running.cancel()
        try? await running.value
        #expect(await keepalived.stops == 1)
        #expect(interfaces.addresses.contains(only))
        #expect(!interfaces.addresses.contains(elected))
    }

    /// A ConfigMap change while keepalived starts waits for that start: a second pass running beside the first
    /// rewrote keepalived.conf under the starting keepalived (under load, an older plan's, without instances, so
    /// keepalived ran no VRRP process and the node never took its VIPs).
    @Test func aPlanChangeWhileKeepalivedStartsIsAppliedAfterTheStart() async throws {
        let api = try await Self.serverWithNodeA(planning: ["203.0.113.65"])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("klb-seam-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keepalived = Keepalived(stateDirectory: directory)
        await keepalived.closeGate()
        try await Self.runningAgentOfNodeA(api: api, directory: directory, keepalived: keepalived) {
            #expect(await eventually(.seconds(60)) { await keepalived.isWaitingAtGate })
            try await Self.replacePlan(in: api, with: ["203.0.113.65", "203.0.113.66"])
            let config = { (try? String(contentsOfFile: keepalived.paths.config, encoding: .utf8)) ?? "" }
            // A second pass beside the first would have written the new plan by now.
            #expect(!(await eventually(.seconds(2)) { config().contains("203.0.113.66") }), "rewritten during start")
            await keepalived.openGate()
            #expect(await eventually(.seconds(60)) { config().contains("203.0.113.66") }, "applied after the start")
            #expect(await eventually(.seconds(60)) { keepalived.reloads.withLock { $0.sent } == 1 })
            let starts = await keepalived.configAtStart
            #expect(starts.count == 1 && starts.allSatisfy { $0.began == $0.returned }, "\(starts)")
        }
    }

    /// keepalived took a SIGHUP and never re-read its configuration: the agent asks again instead of leaving it on
    /// the old one (a VIP added meanwhile would be held by no node until the next plan change).
    @Test func aReloadKeepalivedNeverConfirmsIsAskedForAgain() async throws {
        let api = try await Self.serverWithNodeA(planning: ["203.0.113.65"])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("klb-seam-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keepalived = Keepalived(stateDirectory: directory, ignoringReloads: 1)
        try await Self.runningAgentOfNodeA(api: api, directory: directory, keepalived: keepalived) {
            #expect(await eventually(.seconds(60)) { await keepalived.starts == 1 })
            try await Self.replacePlan(in: api, with: ["203.0.113.65", "203.0.113.66"])
            // The first SIGHUP is lost; after the confirmation timeout (3 s) the agent sends a second.
            #expect(
                await eventually(.seconds(60)) { keepalived.reloads.withLock { $0.sent } == 2 },
                "reloads: \(keepalived.reloads.withLock { $0 })")
            try await Task.sleep(for: .seconds(4))
            #expect(keepalived.reloads.withLock { $0.sent } == 2, "confirmed by the second: no third")
        }
    }

    /// An API server with node "a" and a ConfigMap whose plan has one instance of `vips`, preferred on "a".
    private static func serverWithNodeA(planning vips: [String]) async throws -> InMemoryAPIServer {
        let api = InMemoryAPIServer()
        var node = Node()
        node.metadata = ObjectMeta(name: "a")
        node.json["status"] = ["addresses": [["type": "InternalIP", "address": "192.0.2.11"]]]
        _ = try await api.create(node)
        _ = try await api.create(
            ConfigMap(name: "vip-configmap", namespace: "kube-system", data: [VRRPPlan.dataKey: try planOfNodeA(vips)]))
        return api
    }

    private static func planOfNodeA(_ vips: [String]) throws -> String {
        try VRRPPlan(
            cluster: "fcp", nodes: ["a"],
            instances: [.init(vrid: 10, family: .ipv4, preferred: 0, addresses: try vips.map(IPAddress.init))]
        ).json()
    }

    private static func replacePlan(in api: InMemoryAPIServer, with vips: [String]) async throws {
        var configMap = try await api.get(ConfigMap.self, namespace: "kube-system", name: "vip-configmap")
        configMap.data[VRRPPlan.dataKey] = try planOfNodeA(vips)
        _ = try await api.update(configMap)
    }

    /// Runs `body` while node "a"'s agent runs with `keepalived` standing in, then stops the agent.
    private static func runningAgentOfNodeA(
        api: InMemoryAPIServer, directory: String, keepalived: Keepalived, _ body: () async throws -> Void
    ) async throws {
        let agent = NodeAgent(
            client: api,
            configuration: AgentConfiguration(nodeName: "a", stateDirectory: directory, verifyInterval: .seconds(60)),
            addressing: Interfaces(), keepalived: keepalived, packets: Packets())
        let running = Task { try await agent.run() }
        let outcome = await Result { try await body() }
        running.cancel()
        try? await running.value
        try outcome.get()
    }
}
