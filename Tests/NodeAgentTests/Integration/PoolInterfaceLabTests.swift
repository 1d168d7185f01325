import Foundation
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
import TestLab
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A pool that names an interface (`VIPPool.spec.interface`): the agents report their interfaces, keepalived puts
/// the VIP on that interface of the master, a node without it leaves the VIP out, and a crashed keepalived's VIP
/// is removed from that interface too.
extension AgentFailoverTests {
    @Test func aVIPGoesOnThePoolsInterfaceAndOnlyWhereItExists() async throws {
        let lab = try await AgentLab(nodeCount: 2)
        let outcome = await Result(catching: {
            // A second NIC on n1 (this kernel has no dummy links: a veth pair, both ends in the node).
            try mustRun([
                "ip", "-n", lab.netns("n1"), "link", "add", "eth1", "type", "veth", "peer", "name", "eth1-peer",
            ])
            for link in ["eth1", "eth1-peer"] { try mustRun(["ip", "-n", lab.netns("n1"), "link", "set", link, "up"]) }
            for node in lab.nodes { try lab.startAgent(node) }
            let vip = "203.0.113.70"
            let plan = try VRRPPlan(
                cluster: "lab", nodes: lab.nodes.map { lab.nodeName($0) }.sorted(),
                instances: [
                    .init(
                        vrid: 10, family: .ipv4, preferred: 0, addresses: [try IPAddress(vip)],
                        interfaces: [try IPAddress(vip): "eth1"])
                ])
            _ = try await lab.admin.create(
                ConfigMap(name: "vip-configmap", namespace: lab.namespace, data: [VRRPPlan.dataKey: plan.json()]))
            #expect(
                try await eventually(.seconds(20)) {
                    try lab.lab.addresses(in: lab.netns("n1"), interface: "eth1").contains(vip)
                })
            #expect(try !lab.lab.addresses(in: lab.netns("n1")).contains(vip), "not on the agent's own interface")

            // What the agents report: n1 has eth1, n2 does not.
            func interfaces(_ node: String) async throws -> [String] {
                let node = try await lab.admin.get(Node.self, name: lab.nodeName(node))
                return NodeVRRPState(annotation: node.metadata.annotations[NodeVRRPState.annotation])?.interfaces ?? []
            }
            #expect(try await eventually(.seconds(10)) { try await interfaces("n1").contains("eth1") })
            let onN2 = try await interfaces("n2")
            #expect(onN2.contains("eth0") && !onN2.contains("eth1"))

            // keepalived dies on n1: its VIP leaves eth1 at once; n2 takes the instance but, without eth1, not the VIP.
            let pid = try #require(lab.keepalivedPid("n1"))
            kill(-pid, SIGKILL)
            #expect(
                try await eventually(.seconds(5)) {
                    try !lab.lab.addresses(in: lab.netns("n1"), interface: "eth1").contains(vip)
                })
            #expect(try !lab.lab.addresses(in: lab.netns("n2")).contains(vip))
        })
        await lab.tearDown()
        try outcome.get()
    }
}
