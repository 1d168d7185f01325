import Foundation
import InMemoryAPI
import KubeClient
import NodeAgent
import TestLab
import Testing

/// keepalived puts a VIP on the interface as a local address, so without a filter every VIP reached every
/// listener of the node (a kubelet on :10250, sshd) and its NodePorts. Through a real kube-proxy: the VIP
/// answers its Service's port and ICMP echo, and nothing else; the node's own address is untouched.
extension AgentFailoverTests {
    @Test func aVIPReachesOnlyWhatItsServicesPublish() async throws {
        let lab = try await AgentLab(nodeCount: 2)
        let outcome = await Result(catching: {
            try await lab.startKubeProxies()
            try lab.startController(groups: 2, vrids: "10-11")
            for node in lab.nodes {
                try lab.startAgent(node)
                try lab.startNodeListener(on: node, port: 10250)
            }
            let pod = try lab.startPod("web", on: "n1")
            try await lab.loadBalancer("web", local: false)
            try await lab.setEndpoints("web", [(pod, "n1", true)])
            let vip = try await lab.awaitIngress("web")
            #expect(try await eventually(.seconds(20)) { lab.ask(vip)?.hasPrefix("web/") == true })
            let holder = try #require(try lab.holders(vip).first)
            let nodeAddress = "192.0.2.\(11 + lab.nodes.firstIndex(of: holder)!)"
            let nodePort = try #require(
                try await lab.admin.get(Service.self, namespace: lab.namespace, name: "web").spec.ports.first?.nodePort)

            // The node's listener and the NodePort: reachable on the node's address, not through the VIP.
            #expect(lab.ask(nodeAddress, port: 10250) == "\(holder):10250")
            #expect(lab.ask(vip, port: 10250) == nil, "the VIP reached the node's own listener")
            #expect(lab.ask(nodeAddress, port: nodePort)?.hasPrefix("web/") == true)
            #expect(lab.ask(vip, port: nodePort) == nil, "the VIP reached a NodePort")
            #expect(lab.answersPing(vip))
            let table = try mustRun(["ip", "netns", "exec", lab.netns(holder), "nft", "list", "tables"])
            #expect(table.contains("inet \(VIPFirewall.table)"))

            // Stopped, the agent takes its table with it; without the filter the listener answers (the check above
            // can fail).
            for node in lab.nodes { await lab.agents[node]?.stop(grace: .seconds(5)) }
            for node in lab.nodes { _ = await lab.agents[node]?.exitStatus() }
            for node in lab.nodes {
                let left = try mustRun(["ip", "netns", "exec", lab.netns(node), "nft", "list", "tables"])
                #expect(!left.contains(VIPFirewall.table), "\(node) kept the table after its agent stopped")
            }
            for node in lab.nodes { try lab.startAgent(node, extra: ["--no-vip-firewall"]) }
            #expect(try await eventually(.seconds(20)) { lab.ask(vip, port: 10250)?.hasSuffix(":10250") == true })
        })
        await lab.tearDown()
        try outcome.get()
    }
}
