import IPAM
import Keepalived
import KubeClient
import OperatorCLI
import Testing

/// `kubectl keepalived render NODE` shows what that node's agent renders: the same view of the plan (a Local VIP
/// only on the nodes allowed to hold it), not the whole plan.
@Suite("kubectl keepalived render (no I/O)")
struct NodeRenderingTests {
    static func node(_ name: String, _ address: String) -> Node {
        var node = Node()
        node.metadata = ObjectMeta(name: name)
        node.metadata.annotations = [
            NodeVRRPState.annotation: NodeVRRPState(running: true, instances: [:], vips: [], interfaces: ["eth0"])
                .json()
        ]
        node.json["status"] = ["addresses": [["type": "InternalIP", "address": .string(address)]]]
        return node
    }

    @Test func aLocalVIPIsRenderedOnlyForTheNodesAllowedToHoldIt() throws {
        let local = try IPAddress("203.0.113.70")
        let cluster = try IPAddress("203.0.113.65")
        let planner = try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "50-50"), groups: 1)
        let plan = try planner.plan(
            addresses: [cluster, local], nodes: ["node-a", "node-b", "node-c"],
            placement: Placement(allowedNodes: [local: ["node-a", "node-b"]])
        ).plan
        let nodes = [
            Self.node("node-a", "192.0.2.11"), Self.node("node-b", "192.0.2.12"), Self.node("node-c", "192.0.2.13"),
        ]
        func render(_ name: String) throws -> String {
            try NodeRendering.render(
                plan: plan, node: name, nodes: nodes, interface: "eth0", unicast: true, advertIntervalMilliseconds: 200,
                stateDirectory: "/run/keepalived-vip-agent")
        }
        for name in ["node-a", "node-b"] {
            let text = try render(name)
            #expect(text.contains("203.0.113.70") && text.contains("203.0.113.65"), "\(text)")
        }
        let c = try render("node-c")
        #expect(!c.contains("203.0.113.70"), "node-c's agent leaves the Local VIP out:\n\(c)")
        #expect(c.contains("203.0.113.65"))
        // Exactly what the agent applies.
        #expect(
            c
                == KeepalivedConfig.render(
                    plan: plan.applied(by: "node-c", adverts: .token, interfaces: ["eth0"]),
                    node: try NodeSettings(
                        nodeName: "node-c", interface: "eth0", sourceAddresses: [try IPAddress("192.0.2.13")],
                        unicastPeers: [try IPAddress("192.0.2.11"), try IPAddress("192.0.2.12")],
                        advertIntervalMilliseconds: 200, notifyFIFO: "/run/keepalived-vip-agent/notify.fifo"),
                    adverts: .token))
    }

    /// One node may hold it: its agent holds it outside keepalived, so no node's keepalived.conf names it.
    @Test func aVIPOnlyOneNodeMayHoldIsInNoKeepalivedConf() throws {
        let local = try IPAddress("203.0.113.70")
        let planner = try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "50-50"), groups: 1)
        let plan = try planner.plan(
            addresses: [try IPAddress("203.0.113.65"), local], nodes: ["node-a", "node-b"],
            placement: Placement(allowedNodes: [local: ["node-a"]])
        ).plan
        let nodes = [Self.node("node-a", "192.0.2.11"), Self.node("node-b", "192.0.2.12")]
        for name in ["node-a", "node-b"] {
            let text = try NodeRendering.render(
                plan: plan, node: name, nodes: nodes, interface: "eth0", unicast: true, advertIntervalMilliseconds: 200,
                stateDirectory: "/run/keepalived-vip-agent")
            #expect(!text.contains("203.0.113.70") && text.contains("203.0.113.65"), "\(name):\n\(text)")
        }
    }
}
