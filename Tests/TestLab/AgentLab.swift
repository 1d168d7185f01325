public import Foundation
public import IPAM
import Keepalived
public import KubeClient

#if canImport(Glibc)
    import Glibc
#endif

/// Nodes (network namespaces on one bridge, two by default) and a client, the real API server and one
/// `keepalived-vip-agent` process per node (tests add the controller; benchmarks write plans). VIPs come from
/// 203.0.113.64/26; node addresses from 192.0.2.0/24.
public final class AgentLab: @unchecked Sendable {
    public let lab: NetworkLab
    public let cluster: TestCluster
    public let admin: KubernetesClient
    public let namespace: String
    public let nodes: [String]
    public let client: String
    /// Nodes, client and pods have IPv6 addresses too (2001:db8::/64 on the switch).
    public let ipv6: Bool
    public var agents: [String: ChildProcess] = [:]
    public var metricsPorts: [String: Int] = [:]
    public var helpers: [ChildProcess] = []
    public let stateRoot: String
    /// Run first by `tearDown()` (for example to stop a controller a test started).
    public var onTearDown: [@Sendable () async -> Void] = []
    /// The agent binary to run; default: the debug build.
    public var agentPath: String?

    /// `nodeCount` nodes n1, n2, … at 192.0.2.11, .12, …
    /// `ipv6`: nodes also get `2001:db8::1N/64` (and report it as an InternalIP), for IPv6 VRRP instances.
    /// `cluster`: a control plane of the test's own (default: the process's shared one).
    public init(nodeCount: Int = 2, ipv6: Bool = false, cluster: TestCluster? = nil) async throws {
        nodes = (1...max(1, nodeCount)).map { "n\($0)" }
        self.ipv6 = ipv6
        lab = try NetworkLab()
        if let cluster { self.cluster = cluster } else { self.cluster = try await TestEnvironment.shared() }
        admin = try self.cluster.adminClient()
        namespace = try await self.cluster.makeNamespace(admin, prefix: "agent")
        stateRoot = FileManager.default.temporaryDirectory.appendingPathComponent("klb-agent-\(namespace)").path
        let sw = try lab.makeSwitch()
        for (index, node) in nodes.enumerated() {
            try lab.node(
                node, switch: sw, cidr: "192.0.2.\(11 + index)/24", ipv6: ipv6 ? "2001:db8::\(11 + index)/64" : nil)
        }
        client = try lab.node("client", switch: sw, cidr: "192.0.2.100/24", ipv6: ipv6 ? "2001:db8::100/64" : nil)
        try mustRun(["ip", "-n", client, "route", "add", "203.0.113.0/24", "dev", "eth0"])
        if ipv6 { try mustRun(["ip", "-n", client, "-6", "route", "add", Self.vipRange6, "dev", "eth0"]) }
        try await bindAgentRole()
        for (index, node) in nodes.enumerated() {
            var object = Node()
            object.metadata = ObjectMeta(name: nodeName(node))
            object.metadata.labels = ["keepalived-lb.io/test": namespace]
            _ = try await admin.create(object)
            var addresses: [JSONValue] = [["type": "InternalIP", "address": .string("192.0.2.\(11 + index)")]]
            if ipv6 { addresses.append(["type": "InternalIP", "address": .string("2001:db8::\(11 + index)")]) }
            let _: Node = try await admin.patchStatus(
                Node.self, namespace: nil, name: nodeName(node), ["addresses": .array(addresses)])
        }
    }

    public func nodeName(_ node: String) -> String { "\(namespace)-\(node)" }

    /// Where IPv6 VIPs come from (on-link for the client, as 203.0.113.0/24 is).
    public static let vipRange6 = "2001:db8:1::/64"

    /// deploy/rbac.yaml's agent roles, bound to the plain user the agents run as: what the
    /// DaemonSet is granted is what these tests prove sufficient.
    private func bindAgentRole() async throws {
        try await cluster.bindDeployRole("keepalived-vip-agent", to: "klb-agent", namespace: namespace)
    }
    public func netns(_ node: String) -> String { "\(lab.prefix)-\(node)" }
    public func stateDirectory(_ node: String) -> String { "\(stateRoot)/\(node)" }
    /// The keepalived.conf `node`'s agent last wrote; empty before its first.
    public func keepalivedConfig(_ node: String) -> String {
        (try? String(contentsOfFile: stateDirectory(node) + "/keepalived.conf", encoding: .utf8)) ?? ""
    }

    public static var agentBinary: String? {
        TestEnvironment.builtBinary("keepalived-vip-agent")
    }

    public func agentLog(_ node: String) -> String { "\(stateRoot)/\(node)-agent.log" }

    /// What a failed wait on VIPs reports: who holds each, and the tail of every node's agent and keepalived log
    /// (a slow election, a lost reload and a split instance each read differently there).
    public func diagnosis(of vips: [String], lines: Int = 12) -> String {
        var report = vips.map { "\($0) held by \((try? holders($0))?.description ?? "unknown")" }
        for node in nodes {
            for (what, path) in [
                ("agent", agentLog(node)), ("keepalived", stateDirectory(node) + "/keepalived.log"),
                ("conntrackd", stateDirectory(node) + "/conntrackd.log"),
            ] {
                // conntrackd runs only with --keep-connections.
                guard what != "conntrackd" || FileManager.default.fileExists(atPath: path) else { continue }
                let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no log)"
                report.append("\(node) \(what):\n" + text.split(separator: "\n").suffix(lines).joined(separator: "\n"))
            }
        }
        return report.joined(separator: "\n")
    }

    /// `healthPort`: where its `/healthz` and `/readyz` listen on 127.0.0.1 (default: off).
    public func startAgent(_ node: String, extra: [String] = [], healthPort: Int? = nil) throws {
        guard let binary = agentPath ?? Self.agentBinary else {
            throw TestEnvironmentError(message: "build keepalived-vip-agent first (scripts/test does)")
        }
        try FileManager.default.createDirectory(atPath: stateDirectory(node), withIntermediateDirectories: true)
        let port = LocalHTTP.freePort()
        metricsPorts[node] = port
        agents[node] = try ChildProcess.spawn(
            [
                binary, "--kubeconfig", cluster.agentKubeconfig, "--node-name", nodeName(node), "--netns", netns(node),
                "--interface", "eth0", "--unicast", "--namespace", namespace, "--state-dir", stateDirectory(node),
                "--metrics-bind-address", "127.0.0.1:\(port)",
                "--health-bind-address", healthPort.map { "127.0.0.1:\($0)" } ?? "0",
            ] + extra, outputPath: agentLog(node))
    }

    /// The pid of the keepalived the node's agent runs (its process group leader).
    public func keepalivedPid(_ node: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: stateDirectory(node) + "/keepalived.pid", encoding: .utf8) else {
            return nil
        }
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Which nodes carry `vip` on eth0, as `ip -j addr` sees it from outside.
    public func holders(_ vip: String) throws -> [String] {
        try nodes.filter { try lab.addresses(in: netns($0)).contains(vip) }
    }

    public func loadBalancer(_ name: String) async throws {
        var service = Service()
        service.metadata = ObjectMeta(name: name, namespace: namespace)
        service.spec.type = .loadBalancer
        service.spec.ports = [ServicePort(name: "http", port: 8080, targetPort: 8080)]
        _ = try await admin.create(service)
    }

    public func ingress(_ name: String) async throws -> String? {
        try await admin.get(Service.self, namespace: namespace, name: name).status.loadBalancer.ingress.first?.ip
    }

    public func metrics(_ node: String) -> String {
        LocalHTTP.get(port: metricsPorts[node] ?? 0, path: "/metrics")?.body ?? ""
    }

    /// A TCP server on port 8080 in every node namespace that answers with the node's name.
    public func startEchoServers() throws {
        for node in nodes {
            helpers.append(
                try ChildProcess.spawn(
                    AgentLab.labNet(in: netns(node), ["serve", "8080", node]), outputPath: "/dev/null"))
        }
    }

    /// Connects to `vip`:8080 from the client every 10 ms for `seconds`; prints "ok fail" counts.
    public func startProbe(_ vip: String, seconds: Double, output: String) throws -> ChildProcess {
        return try ChildProcess.spawn(
            AgentLab.labNet(in: client, ["probe", vip, "8080", String(seconds)]), outputPath: output)
    }

    /// `scripts/lib/lab-net.py COMMAND…` run inside network namespace `ns` (servers, probes, pings).
    public static func labNet(in ns: String, _ arguments: [String]) -> [String] {
        ["ip", "netns", "exec", ns, "python3", TestEnvironment.repositoryRoot + "/scripts/lib/lab-net.py"] + arguments
    }

    /// Stops everything this lab started, also after a failed expectation.
    public func tearDown() async {
        // Every lab's kube-proxy serves the Services of the whole API server, and every lab gives out the same
        // VIPs: a Service left behind would take the next lab's VIP traffic (a Cluster Service's masquerade
        // showed up in a Local test that ran after one).
        // The controller's finalizer is taken off here: it may be stopped before it would.
        for service in (try? await admin.list(Service.self, namespace: namespace).items) ?? [] {
            guard let name = service.metadata.name else { continue }
            _ = try? await admin.patch(
                Service.self, namespace: namespace, name: name, .finalizers([], resourceVersion: nil),
                subresource: nil)
            try? await admin.delete(Service.self, namespace: namespace, name: name, uid: nil, resourceVersion: nil)
        }
        for hook in onTearDown { await hook() }
        for helper in helpers { await helper.stop(grace: .milliseconds(200)) }
        for (_, agent) in agents { await agent.stop(grace: .seconds(5)) }
        for node in nodes {
            if let pid = keepalivedPid(node), pid > 1,
                let cmdline = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
                cmdline.contains(stateDirectory(node))
            {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
            }
            // conntrackd (--keep-connections) runs in a group of its own, as keepalived does.
            if let orphan = OrphanProcess.find(
                pidFile: stateDirectory(node) + "/conntrackd.pid", marker: stateDirectory(node) + "/conntrackd.conf")
            {
                kill(-orphan.pid, SIGKILL)
                kill(orphan.pid, SIGKILL)
            }
            try? await admin.delete(Node.self, name: nodeName(node))
        }
        _ = try? runCommand([
            "kubectl", "--kubeconfig", cluster.adminKubeconfig, "delete", "clusterrolebinding",
            "klb-agent-\(namespace)",
        ])
        lab.tearDown()
        try? FileManager.default.removeItem(atPath: stateRoot)
    }
}

extension AgentLab {
    /// Writes a one-instance plan (VRID 10, preferred node n1) straight into the lab's ConfigMap: the agents'
    /// side alone, without a controller.
    public func writePlan(vips: [String], family: IPFamily = .ipv4) async throws {
        let plan = try VRRPPlan(
            cluster: "lab", nodes: nodes.map { nodeName($0) }.sorted(),
            instances: [.init(vrid: 10, family: family, preferred: 0, addresses: vips.map { try IPAddress($0) })])
        do {
            var map = try await admin.get(ConfigMap.self, namespace: namespace, name: "vip-configmap")
            map.data[VRRPPlan.dataKey] = plan.json()
            _ = try await admin.update(map)
        } catch {
            guard error.code == .notFound else { throw error }
            _ = try await admin.create(
                ConfigMap(name: "vip-configmap", namespace: namespace, data: [VRRPPlan.dataKey: plan.json()]))
        }
    }
}
