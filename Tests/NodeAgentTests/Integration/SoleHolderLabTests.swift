import Foundation
import InMemoryAPI
import KubeClient
import TestLab
import Testing

/// A Local Service whose one pod runs on one node: no other node may hold its VIP, so a rolling update of the agent
/// DaemonSet reaches that node sooner or later. keepalived 2.2.7 clears the VIPs of its configuration when it
/// starts and stops; the agent holds such a VIP itself, so it never leaves the node.
extension AgentFailoverTests {
    @Test func aVIPOnlyOneNodeMayHoldStaysThroughThatNodesAgentRestart() async throws {
        let lab = try await AgentLab(nodeCount: 2)
        let outcome = await Result(catching: {
            try await lab.startKubeProxies()
            try lab.startController(groups: 2, vrids: "10-11")
            for node in lab.nodes { try lab.startAgent(node) }
            let steadyPod = try lab.startPod("steady", on: "n1")
            let onlyPod = try lab.startPod("only", on: "n2")
            try await lab.loadBalancer("steady", local: false)
            try await lab.setEndpoints("steady", [(steadyPod, "n1", true)])
            try await lab.loadBalancer("only", local: true)
            try await lab.setEndpoints("only", [(onlyPod, "n2", true)])
            let steady = try await lab.awaitIngress("steady")
            let only = try await lab.awaitIngress("only")
            #expect(try await eventually(.seconds(20)) { lab.ask(only) == "only/192.0.2.100" })
            #expect(try await eventually(.seconds(20)) { lab.ask(steady)?.hasPrefix("steady/") == true })
            #expect(try await eventually(.seconds(10)) { try lab.holders(only) == ["n2"] })
            let config = try String(contentsOfFile: lab.stateDirectory("n2") + "/keepalived.conf", encoding: .utf8)
            #expect(!config.contains("\(only)/32"), "keepalived would clear it at its next start")

            let onlyOutput = lab.stateRoot + "/probe-only.out"
            let steadyOutput = lab.stateRoot + "/probe-steady.out"
            let onlyProbe = try lab.startProbe(only, seconds: 9, output: onlyOutput)
            let steadyProbe = try lab.startProbe(steady, seconds: 9, output: steadyOutput)
            async let absences = Self.absences(of: only, on: "n2", in: lab, for: .seconds(8))
            try await Task.sleep(for: .milliseconds(500))
            // A rolling update on n2: the agent stops (SIGTERM), a new one starts a second later.
            let agent = try #require(lab.agents["n2"])
            agent.signal(SIGTERM)
            #expect(await agent.exitStatus() == 0)
            #expect(try lab.holders(only) == ["n2"], "the stopped agent left it")
            try await Task.sleep(for: .seconds(1))
            try lab.startAgent("n2")
            #expect(await eventually(.seconds(10)) { lab.keepalivedPid("n2") != nil })
            #expect(await absences == 0, "polls that found the VIP on no node")
            for (probe, output) in [(onlyProbe, onlyOutput), (steadyProbe, steadyOutput)] {
                #expect(await probe.exitStatus() == 0)
                let parts = try String(contentsOfFile: output, encoding: .utf8).split(separator: " ")
                #expect(parts.count >= 3 && Int(parts[1]) == 0, "\(output): \(parts)")
                #expect((Int(parts.first ?? "") ?? 0) > 200, "\(output): \(parts)")
            }
            #expect(try lab.holders(only) == ["n2"])
            #expect(lab.ask(only) == "only/192.0.2.100")

            // Its endpoint moves to n1: held there, gone from n2 (the agent lets go of what it held).
            let onN1 = try lab.startPod("only1", on: "n1", index: 3)
            try await lab.setEndpoints("only", [(onN1, "n1", true)])
            #expect(try await eventually(.seconds(10)) { try lab.holders(only) == ["n1"] })
            #expect(try await eventually(.seconds(10)) { lab.ask(only) == "only1/192.0.2.100" })
        })
        await lab.tearDown()
        try outcome.get()
    }

    /// Polls which nodes hold `vip` every 20 ms for `duration`; how many polls found it on none.
    private static func absences(of vip: String, on node: String, in lab: AgentLab, for duration: Duration) async
        -> Int
    {
        let end = ContinuousClock.now + duration
        var missing = 0
        while ContinuousClock.now < end {
            if (try? lab.holders(vip))?.isEmpty ?? true { missing += 1 }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return missing
    }
}
