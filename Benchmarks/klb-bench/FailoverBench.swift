import ArgumentParser
import BenchSupport
import Foundation
import TestLab

#if canImport(Glibc)
    import Glibc
#endif

/// Time from losing the master until the VIP answers from the other node, seen by a client
/// that connects every few milliseconds. Default agent flags (advert interval 200 ms).
struct FailoverBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failover", abstract: "Unplanned and planned VRRP failover.")

    @Option(help: "The keepalived-vip-agent binary (release build).")
    var agentBinary: String

    @Option(help: "Repetitions per case (the median is reported).")
    var repeats = 5

    @Option(help: "Where to write the client's view of each case (JSON), for the plot.")
    var timelines: String?

    func run() async throws {
        var recorded: [String: [[Double]]] = [:]
        for interval in [200, 100] {
            let lab = try await AgentLab()
            lab.agentPath = agentBinary
            do {
                try await measure(lab, advertIntervalMs: interval, recorded: &recorded)
            } catch {
                await lab.tearDown()
                throw error
            }
            await lab.tearDown()
        }
        if let timelines {
            let data = try JSONSerialization.data(withJSONObject: recorded, options: [.sortedKeys])
            try data.write(to: URL(fileURLWithPath: timelines))
        }
    }

    /// Every case with the agents' advert interval; the 200 ms run is the default and gets the
    /// plain names, the 100 ms run a `_100ms` suffix.
    func measure(_ lab: AgentLab, advertIntervalMs: Int, recorded: inout [String: [[Double]]]) async throws {
        let suffix = advertIntervalMs == 200 ? "" : "_\(advertIntervalMs)ms"
        let flags = ["--advert-interval-ms", String(advertIntervalMs)]
        try await lab.writePlan(vips: ["203.0.113.65"])
        try lab.startEchoServers()
        for node in lab.nodes { try lab.startAgent(node, extra: flags) }

        func run(_ name: String, _ fail: (AgentLab) async throws -> Void, restore: (AgentLab) async throws -> Void)
            async throws
        {
            var samples: [Double] = []
            for repeat_ in 0..<repeats {
                try await settleOnN1(lab)
                let (sample, timeline) = try await timeUntilAnsweredByN2(lab) { try await fail(lab) }
                samples.append(sample)
                if repeat_ == 0 { recorded[name + suffix] = timeline }
                try await restore(lab)
            }
            report(suite: "failover", name: name + suffix, value: median(samples), unit: "ms")
            report(suite: "failover", name: name + suffix + "_max", value: samples.max() ?? .nan, unit: "ms")
        }

        // keepalived dies, its agent lives (and tells the backup at once).
        try await run(
            "keepalived_crash_failover",
            { lab in
                let pid = try lab.keepalivedPid("n1").orThrow("no keepalived pid for n1")
                kill(-pid, SIGKILL)
            }, restore: { _ in })
        // The node is gone as a whole: agent and keepalived SIGKILLed together; nobody speaks for it.
        try await run(
            "node_loss_failover",
            { lab in
                let agent = try lab.agents["n1"].orThrow("no agent on n1")
                let pid = try lab.keepalivedPid("n1").orThrow("no keepalived pid for n1")
                agent.signal(SIGKILL)
                kill(-pid, SIGKILL)
                _ = await agent.exitStatus()
            },
            restore: { lab in
                try lab.startAgent("n1", extra: flags)
            })
        // The node's link is cut.
        try await run(
            "link_loss_failover",
            { lab in
                try mustRun(["ip", "-n", lab.netns("n1"), "link", "set", "eth0", "down"])
            },
            restore: { lab in
                try mustRun(["ip", "-n", lab.netns("n1"), "link", "set", "eth0", "up"])
            })
        // Planned: SIGTERM; the agent's own exit is part of the figure.
        try await run(
            "planned_failover",
            { lab in
                let agent = try lab.agents["n1"].orThrow("no agent on n1")
                agent.signal(SIGTERM)
                _ = await agent.exitStatus()
            },
            restore: { lab in
                try lab.startAgent("n1", extra: flags)
            })
        for (_, agent) in lab.agents { await agent.stop(grace: .seconds(5)) }
        lab.agents = [:]
    }

    /// n1 (preferred) holds the VIP, alone, for a second.
    func settleOnN1(_ lab: AgentLab) async throws {
        try await waitUntil(.seconds(30)) { try lab.holders("203.0.113.65") == ["n1"] }
        try await Task.sleep(for: .seconds(1))
        try await waitUntil(.seconds(30)) { try lab.holders("203.0.113.65") == ["n1"] }
    }

    /// Milliseconds from the fault to the first answer from n2, and what the client saw from
    /// 0.3 s before to 1.5 s after (time relative to the fault in ms; node 1, node 2, or 0 for no answer).
    func timeUntilAnsweredByN2(_ lab: AgentLab, _ fail: () async throws -> Void) async throws -> (Double, [[Double]]) {
        let output = lab.stateRoot + "/failover-probe.out"
        let probe = try Timeline.probe(lab, vip: "203.0.113.65", seconds: 20, output: output)
        try await Task.sleep(for: .milliseconds(300))
        let start = Date().timeIntervalSince1970
        try await fail()
        var answered: Double?
        let deadline = ContinuousClock.now + .seconds(20)
        while answered == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            answered = (try? Timeline(path: output))?.firstAnswer(after: start, from: "n2")
        }
        try await Task.sleep(for: .milliseconds(500))
        probe.signal(SIGTERM)
        _ = await probe.exitStatus()
        guard let answered else { throw BenchError("the VIP never answered from n2") }
        let timeline = try Timeline(path: output).attempts
            .filter { $0.time >= start - 0.3 && $0.time <= answered + 0.5 }
            .map { [($0.time - start) * 1000, $0.node == "n1" ? 1 : $0.node == "n2" ? 2 : 0] }
        return ((answered - start) * 1000, timeline)
    }

    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}

extension Optional {
    func orThrow(_ message: String) throws -> Wrapped {
        guard let self else { throw BenchError(message) }
        return self
    }
}
