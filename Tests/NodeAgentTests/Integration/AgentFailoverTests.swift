import Foundation
import InMemoryAPI
import KubeClient
import NodeAgent
import TestLab
import TestTraits
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The agent binary with real keepalived in network namespaces, fed by the real controller.
/// Serialized: VRRP timing on two shared cores is best not fought over by parallel labs.
@Suite("keepalived-vip-agent with keepalived in network namespaces", .serialized, .integration, .tags(.integration))
struct AgentFailoverTests {
    @Test func oneMasterThenFailoverOnKeepalivedDeathHandoverOnSIGTERMAndNoOrphanAfterAgentRestart() async throws {
        let lab = try await AgentLab()
        let outcome = await Result(catching: {
            try lab.startController()
            for node in lab.nodes { try lab.startAgent(node) }
            try await lab.loadBalancer("web")
            #expect(try await eventually { try await lab.ingress("web") == "203.0.113.65" })
            let vip = "203.0.113.65"
            #expect(try await eventually { try lab.holders(vip).count == 1 }, "exactly one node holds the VIP")
            let master = try await lab.settledHolder(of: vip)
            #expect(try lab.holders(vip) == [master], "still exactly one")
            let other = lab.nodes.first { $0 != master }!

            // The node's view is published on its Node object.
            #expect(
                try await eventually {
                    let node = try await lab.admin.get(Node.self, name: lab.nodeName(master))
                    return node.metadata.annotations[AgentConfiguration.stateAnnotation]?.contains(vip) == true
                })

            // Unplanned: the master's keepalived (and its VRRP child) SIGKILLed. The backup takes
            // over and the agent removes the VIP the dead keepalived left behind.
            let pid = try #require(lab.keepalivedPid(master))
            kill(-pid, SIGKILL)
            #expect(try await eventually(.seconds(10)) { try lab.holders(vip) == [other] })
            #expect(lab.metrics(master).contains("keepalived_lb_agent_keepalived_restarts_total 1"))
            #expect(
                await eventually { lab.keepalivedPid(master) != pid && lab.keepalivedPid(master) != nil },
                "keepalived restarted")

            // Planned: SIGTERM the agent now holding it: a clean exit, the VIP leaves that node
            // and the other (restarted) node takes it.
            let holder = try #require(lab.agents[other])
            holder.signal(SIGTERM)
            #expect(await holder.exitStatus() == 0)
            lab.agents[other] = nil
            #expect(try await eventually(.seconds(10)) { try lab.holders(vip) == [master] })
            #expect(try !lab.lab.addresses(in: lab.netns(other)).contains(vip))

            // The agent SIGKILLed while its keepalived serves: the orphan keeps the VIP until a new
            // agent starts, stops the orphan, cleans up and serves again with no VIP left twice.
            try lab.startAgent(other)
            #expect(await eventually { lab.keepalivedPid(other) != nil })
            let orphanAgent = try #require(lab.agents[master])
            orphanAgent.signal(SIGKILL)
            _ = await orphanAgent.exitStatus()
            let orphan = try #require(lab.keepalivedPid(master))
            #expect(kill(orphan, 0) == 0, "keepalived outlives a SIGKILLed agent")
            try lab.startAgent(master)
            #expect(
                await eventually(.seconds(15)) {
                    kill(orphan, 0) != 0
                        || (try? String(contentsOfFile: "/proc/\(orphan)/stat", encoding: .utf8))?.contains(") Z")
                            == true
                },
                "the restarted agent stopped the orphaned keepalived")
            #expect(try await eventually(.seconds(15)) { try lab.holders(vip).count == 1 })
            try await Task.sleep(for: .seconds(1))
            #expect(try lab.holders(vip).count == 1)
        })
        await lab.tearDown()
        try outcome.get()
    }

    @Test func reloadAddingAVIPDoesNotDisturbTheVIPsAlreadyServed() async throws {
        let lab = try await AgentLab()
        let outcome = await Result(catching: {
            try lab.startController()
            for node in lab.nodes { try lab.startAgent(node) }
            try lab.startEchoServers()
            try await lab.loadBalancer("first")
            let vip = "203.0.113.65"
            #expect(try await eventually { try lab.holders(vip).count == 1 })
            let master = try await lab.settledHolder(of: vip)
            let transitionsBefore = lab.metrics(master)

            let output = lab.stateRoot + "/probe.out"
            let probe = try lab.startProbe(vip, seconds: 4, output: output)
            try await Task.sleep(for: .milliseconds(500))
            for name in ["second", "third", "fourth"] { try await lab.loadBalancer(name) }
            #expect(await probe.exitStatus() == 0)
            let result = try String(contentsOfFile: output, encoding: .utf8).split(separator: " ").map(String.init)
            #expect(result.count == 3 && Int(result[0])! > 50, "probe: \(result)")
            #expect(result.count >= 2 && result[1] == "0", "connections to \(vip) failed during the reload: \(result)")
            #expect(
                result.count == 3 && result[2].trimmingCharacters(in: .whitespacesAndNewlines) == master,
                "always answered by the same node: \(result)")

            for name in ["second", "third", "fourth"] {
                let ip = try #require(
                    try await eventually { try await lab.ingress(name) != nil } ? try await lab.ingress(name) : nil)
                #expect(try await eventually { try lab.holders(ip).count == 1 }, "\(name) \(ip) on exactly one node")
            }
            #expect(try lab.holders(vip) == [master])
            #expect(lab.metrics(master).contains("keepalived_lb_agent_keepalived_reloads_total"))
            #expect(!transitionsBefore.isEmpty)
        })
        await lab.tearDown()
        try outcome.get()
    }

    @Test func badInterfaceAndMissingPermissionAreReportedNotCrashedOn() async throws {
        let lab = try await AgentLab()
        let outcome = await Result(catching: {
            let binary = try #require(AgentLab.agentBinary)
            let log = lab.stateRoot + "-bad.log"
            defer { try? FileManager.default.removeItem(atPath: log) }
            let missing = try ChildProcess.spawn(
                [
                    binary, "--kubeconfig", lab.cluster.adminKubeconfig, "--node-name", lab.nodeName("n1"),
                    "--netns", lab.netns("n1"), "--interface", "nope0", "--state-dir", lab.stateRoot + "/bad",
                    "--metrics-bind-address", "0", "--health-bind-address", "0",
                ], outputPath: log)
            #expect(await missing.exitStatus() == 1)
            let text = try String(contentsOfFile: log, encoding: .utf8)
            #expect(text.contains("no interface named \"nope0\""), "\(text)")

            // Without privileges the agent cannot enter the node's namespace: it says so.
            try? FileManager.default.removeItem(atPath: log)
            let unprivileged = try ChildProcess.spawn(
                [
                    "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                    binary, "--kubeconfig", lab.cluster.adminKubeconfig, "--node-name", lab.nodeName("n1"),
                    "--netns", lab.netns("n1"), "--interface", "eth0", "--state-dir", "/tmp/klb-unpriv",
                    "--metrics-bind-address", "0", "--health-bind-address", "0",
                ], outputPath: log)
            #expect(await unprivileged.exitStatus() == 1)
            let denied = try String(contentsOfFile: log, encoding: .utf8)
            #expect(
                denied.contains("PermissionDenied") || denied.contains("Operation not permitted")
                    || denied.contains("Permission denied"), "\(denied)")
        })
        await lab.tearDown()
        try outcome.get()
    }
}
