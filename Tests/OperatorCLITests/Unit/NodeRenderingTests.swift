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
            addresses: [cluster, local], nodes: ["node-a", "node-b"],
            placement: Placement(allowedNodes: [local: ["node-a"]])
        ).plan
        let nodes = [Self.node("node-a", "192.0.2.11"), Self.node("node-b", "192.0.2.12")]
        func render(_ name: String) throws -> String {
            try NodeRendering.render(
                plan: plan, node: name, nodes: nodes, interface: "eth0", unicast: true, advertIntervalMilliseconds: 200,
                stateDirectory: "/run/keepalived-vip-agent")
        }
        let a = try render("node-a")
        let b = try render("node-b")
        #expect(a.contains("203.0.113.70") && a.contains("203.0.113.65"), "\(a)")
        #expect(!b.contains("203.0.113.70"), "node-b's agent leaves the Local VIP out:\n\(b)")
        #expect(b.contains("203.0.113.65"))
        // Exactly what the agent applies.
        #expect(
            b
                == KeepalivedConfig.render(
                    plan: plan.applied(by: "node-b", adverts: .token, interfaces: ["eth0"]),
                    node: try NodeSettings(
                        nodeName: "node-b", interface: "eth0", sourceAddresses: [try IPAddress("192.0.2.12")],
                        unicastPeers: [try IPAddress("192.0.2.11")], advertIntervalMilliseconds: 200,
                        notifyFIFO: "/run/keepalived-vip-agent/notify.fifo"),
                    adverts: .token))
    }
}
