import Foundation
import IPAM
import Keepalived
import Testing

@Suite("keepalived.conf rendering")
struct RenderTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static func plan() throws -> VRRPPlan {
        let planner = try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "50-53"), groups: 4)
        let addresses = try ["10.210.1.65", "10.210.1.66", "10.210.1.67", "10.210.1.68", "2001:db8:1::65"].map {
            try IPAddress($0)
        }
        return try planner.plan(addresses: addresses, nodes: ["node-a", "node-b", "node-c"])
    }

    /// Compares with the checked-in file; `UPDATE_GOLDEN=1` rewrites it after a deliberate change.
    func assertGolden(_ text: String, _ name: String) throws {
        let url = Self.golden.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(text == expected, "rendering differs from Golden/\(name); rerun with UPDATE_GOLDEN=1 if intended")
    }

    @Test func unicastNodeMatchesGolden() throws {
        let node = try NodeSettings(
            nodeName: "node-b", interface: "eth0",
            sourceAddresses: [IPAddress("192.0.2.12"), IPAddress("2001:db8::12")],
            unicastPeers: [
                IPAddress("192.0.2.11"), IPAddress("192.0.2.13"), IPAddress("192.0.2.12"), IPAddress("2001:db8::11"),
            ],
            advertIntervalMilliseconds: 200, notifyFIFO: "/run/keepalived-vip-agent/notify.fifo")
        try assertGolden(KeepalivedConfig.render(plan: Self.plan(), node: node), "node-b-unicast.conf")
    }

    @Test func multicastNodeMatchesGolden() throws {
        let node = try NodeSettings(
            nodeName: "node-a", interface: "bond0.100", sourceAddresses: [], unicastPeers: [],
            advertIntervalMilliseconds: 1000)
        try assertGolden(KeepalivedConfig.render(plan: Self.plan(), node: node), "node-a-multicast.conf")
    }

    @Test func ineligibleNodeRendersNoInstances() throws {
        let node = try NodeSettings(nodeName: "node-z", interface: "eth0", sourceAddresses: [], unicastPeers: [])
        #expect(!KeepalivedConfig.render(plan: try Self.plan(), node: node).contains("vrrp_instance"))
    }

    @Test func renderingIsDeterministic() throws {
        let node = try NodeSettings(nodeName: "node-c", interface: "eth0", sourceAddresses: [], unicastPeers: [])
        let plan = try Self.plan()
        #expect(
            KeepalivedConfig.render(plan: plan, node: node)
                == KeepalivedConfig.render(plan: try Self.plan(), node: node))
    }

    /// Adjacent priorities let two backups' takeover timers fire within a millisecond: both
    /// became master after a handover. Every rank is distinct and well apart, whatever the size.
    @Test func backupPrioritiesAreSpacedSoTakeoverTimersDiffer() {
        for nodes in 1...64 {
            let priorities = (0..<nodes).map { KeepalivedConfig.priority(rank: $0, nodeCount: nodes) }
            #expect(priorities.allSatisfy { (1...254).contains($0) }, "\(nodes) nodes: \(priorities)")
            #expect(Set(priorities).count == nodes, "\(nodes) nodes: \(priorities)")
            let gaps = zip(priorities, priorities.dropFirst()).map { $0 - $1 }
            let expected = min(KeepalivedConfig.maximumPriorityStep, 249 / max(1, nodes - 1))
            #expect(gaps.allSatisfy { $0 >= expected }, "\(nodes) nodes: \(priorities)")
        }
        #expect((0..<3).map { KeepalivedConfig.priority(rank: $0, nodeCount: 3) } == [250, 200, 150])
    }

    /// A brand-new instance starts at once on its preferred node only; every other instance,
    /// and every other node, renders as always.
    @Test func anInstanceNewToTheClusterStartsAsMasterOnItsPreferredNode() throws {
        let plan = try Self.plan()
        let previous = try VRRPPlan(
            cluster: plan.cluster, nodes: plan.nodes, instances: Array(plan.instances.dropLast()))
        let new = plan.instancesNew(since: previous)
        #expect(new == [plan.instances.last!])
        let name = plan.instanceName(new[0])
        let preferred = plan.nodes[new[0].preferred]
        for nodeName in plan.nodes {
            let node = try NodeSettings(nodeName: nodeName, interface: "eth0", sourceAddresses: [], unicastPeers: [])
            let boosted = KeepalivedConfig.render(plan: plan, node: node, startingAsMaster: [name])
            let normal = KeepalivedConfig.render(plan: plan, node: node)
            if nodeName == preferred {
                #expect(boosted.contains("vrrp_instance \(name) {\n    state MASTER\n"))
                #expect(boosted.components(separatedBy: "priority 255").count == 2, "only the new instance")
                #expect(
                    boosted.replacingOccurrences(of: "state MASTER", with: "state BACKUP")
                        .replacingOccurrences(of: "priority 255", with: "priority 250") == normal)
            } else {
                #expect(boosted == normal, "\(nodeName) is not the new instance's preferred node")
            }
        }
        #expect(plan.instancesNew(since: plan).isEmpty)
    }

    /// Everything a user can write (annotations, names) or an agent flag carries is refused before
    /// it could reach keepalived.conf.
    @Test func userTextCannotInjectConfiguration() throws {
        let hostile = "x\n}\nvirtual_server 0.0.0.0 0 {\n  real_server 6.6.6.6 22 {"
        #expect(throws: KeepalivedError.self) {
            try VIPEntry(address: IPAddress("192.0.2.1"), namespace: "default", name: hostile, forwardMethod: nil)
        }
        #expect(throws: KeepalivedError.self) { try ForwardMethod(parsing: "NAT }\n", source: "annotation") }
        #expect(throws: KeepalivedError.self) {
            try NodeSettings(nodeName: hostile, interface: "eth0", sourceAddresses: [], unicastPeers: [])
        }
        #expect(throws: KeepalivedError.self) {
            try NodeSettings(nodeName: "a", interface: "eth0 }", sourceAddresses: [], unicastPeers: [])
        }
        #expect(throws: KeepalivedError.self) {
            try NodeSettings(
                nodeName: "a", interface: "eth0", sourceAddresses: [], unicastPeers: [], notifyFIFO: "/tmp/x\n}")
        }
        #expect(throws: KeepalivedError.self) { try VRRPPlanner(cluster: hostile, vrids: VRIDRange(1, 2), groups: 1) }
        #expect(throws: IPAMError.self) { try IPAddress("10.0.0.1\n}") }
        // A plan document edited by hand with braces in every string is refused as a whole.
        let doc =
            #"{"version":1,"cluster":"fcp","nodes":["a"],"instances":[{"vrid":5,"family":"IPv4","preferred":0,"addresses":["10.0.0.1 }\nvrrp_instance evil {"]}]}"#
        #expect(throws: KeepalivedError.self) { try VRRPPlan(json: doc) }
        // And what does render contains only the expected keywords: no braces beyond the structure.
        let node = try NodeSettings(nodeName: "node-a", interface: "eth0", sourceAddresses: [], unicastPeers: [])
        let text = KeepalivedConfig.render(plan: try Self.plan(), node: node)
        #expect(text.filter { $0 == "{" }.count == text.filter { $0 == "}" }.count)
    }
}
