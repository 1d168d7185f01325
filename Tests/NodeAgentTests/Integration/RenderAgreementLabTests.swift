import Foundation
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
import OperatorCLI
import TestLab
import Testing

/// `kubectl keepalived render NODE` prints what that node's agent wrote: compared byte for byte with the
/// keepalived.conf each running agent renders, for a plan whose Local VIP only one node may hold.
extension AgentFailoverTests {
    /// What `kubectl keepalived render` prints for `node`, and the keepalived.conf its agent wrote.
    private static func renderings(_ lab: AgentLab, _ node: String, _ plan: VRRPPlan) async throws -> (
        plugin: String, agent: String
    ) {
        let plugin = try NodeRendering.render(
            plan: plan, node: lab.nodeName(node), nodes: try await lab.admin.list(Node.self).items, interface: "eth0",
            unicast: true, advertIntervalMilliseconds: 200, stateDirectory: lab.stateDirectory(node))
        let agent = try? String(contentsOfFile: lab.stateDirectory(node) + "/keepalived.conf", encoding: .utf8)
        return (plugin, agent ?? "")
    }

    @Test func thePluginRendersWhatEachAgentWrote() async throws {
        let lab = try await AgentLab()
        let outcome = await Result(catching: { try await Self.compareRenderings(lab) })
        await lab.tearDown()
        try outcome.get()
    }

    private static func compareRenderings(_ lab: AgentLab) async throws {
        let names = lab.nodes.map { lab.nodeName($0) }.sorted()
        let cluster = try IPAddress("203.0.113.65")
        let local = try IPAddress("203.0.113.70")
        let instance = VRRPPlan.Instance(
            vrid: 10, family: .ipv4, preferred: 0, addresses: [cluster, local], allowedNodes: [local: [0]])
        let plan = try VRRPPlan(cluster: "lab", nodes: names, instances: [instance])
        _ = try await lab.admin.create(
            ConfigMap(name: "vip-configmap", namespace: lab.namespace, data: [VRRPPlan.dataKey: plan.json()]))
        for node in lab.nodes { try lab.startAgent(node) }
        // Only the first node may hold it: its agent does, outside keepalived (no keepalived.conf names it).
        let first = try #require(lab.nodes.first { lab.nodeName($0) == names[0] })
        #expect(try await eventually(.seconds(30)) { try lab.holders("203.0.113.70") == [first] })
        for node in lab.nodes {
            // Until the agent has published its state and left the start-as-master rendering behind.
            _ = try await eventually(.seconds(15)) { try await renderingsAgree(lab, node, plan) }
            let rendered = try await renderings(lab, node, plan)
            #expect(
                rendered.plugin == rendered.agent,
                "\(node): the plugin rendered\n\(rendered.plugin)\nthe agent wrote\n\(rendered.agent)")
            #expect(rendered.agent.contains("203.0.113.65"))
            #expect(!rendered.agent.contains("203.0.113.70"), "\(rendered.agent)")
        }
    }

    private static func renderingsAgree(_ lab: AgentLab, _ node: String, _ plan: VRRPPlan) async throws -> Bool {
        let rendered = try await renderings(lab, node, plan)
        return rendered.plugin == rendered.agent
    }
}
