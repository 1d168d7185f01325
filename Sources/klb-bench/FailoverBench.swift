import ArgumentParser
import Foundation
import KubeTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Time from losing the master until the VIP answers from the other node, seen by a client
/// that connects every few milliseconds. Default agent flags (advert interval 200 ms).
struct FailoverBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "failover", abstract: "Unplanned and planned VRRP failover.")

    @Option(help: "The keepalived-vip-agent binary (release build).")
    var agentBinary: String

    @Option(help: "Repetitions per case (the median is reported).")
    var repeats = 5

    func run() async throws {
        let lab = try await AgentLab()
        lab.agentPath = agentBinary
        do {
            try await measure(lab)
        } catch {
            await lab.tearDown()
            throw error
        }
        await lab.tearDown()
    }

    func measure(_ lab: AgentLab) async throws {
        try await writePlan(lab, vips: ["203.0.113.65"])
        try lab.startEchoServers()
        for node in lab.nodes { try lab.startAgent(node) }

        var unplanned: [Double] = []
        for _ in 0..<repeats {
            try await settleOnN1(lab)
            let pid = try lab.keepalivedPid("n1").orThrow("no keepalived pid for n1")
            unplanned.append(try await timeUntilAnsweredByN2(lab) { kill(-pid, SIGKILL) })
        }
        report(suite: "failover", name: "unplanned_failover", value: median(unplanned), unit: "ms")

        var planned: [Double] = []
        for _ in 0..<repeats {
            try await settleOnN1(lab)
            let agent = try lab.agents["n1"].orThrow("no agent on n1")
            planned.append(try await timeUntilAnsweredByN2(lab) { agent.signal(SIGTERM) })
            _ = await agent.exitStatus()
            try lab.startAgent("n1")
        }
        report(suite: "failover", name: "planned_failover", value: median(planned), unit: "ms")
    }

    /// n1 (preferred) holds the VIP, alone, for a second.
    func settleOnN1(_ lab: AgentLab) async throws {
        try await waitUntil(.seconds(30)) { try lab.holders("203.0.113.65") == ["n1"] }
        try await Task.sleep(for: .seconds(1))
        try await waitUntil(.seconds(30)) { try lab.holders("203.0.113.65") == ["n1"] }
    }

    func timeUntilAnsweredByN2(_ lab: AgentLab, _ fail: () -> Void) async throws -> Double {
        let output = lab.stateRoot + "/failover-probe.out"
        try? FileManager.default.removeItem(atPath: output)
        let code = """
        import socket, sys, time
        end = time.time() + 20
        while time.time() < end:
            try:
                c = socket.create_connection(("203.0.113.65", 8080), timeout=0.05); answer = c.recv(16).decode(); c.close()
                if answer == "n2":
                    print("%.6f" % time.time()); sys.exit(0)
            except OSError:
                pass
            time.sleep(0.002)
        sys.exit(1)
        """
        let probe = try ChildProcess.spawn(["ip", "netns", "exec", lab.client, "python3", "-c", code], outputPath: output)
        try await Task.sleep(for: .milliseconds(300))
        let start = Date().timeIntervalSince1970
        fail()
        guard await probe.exitStatus() == 0, let text = try? String(contentsOfFile: output, encoding: .utf8),
              let answered = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw BenchError("the VIP never answered from n2")
        }
        return (answered - start) * 1000
    }

    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}

extension Optional {
    func orThrow(_ message: String) throws -> Wrapped {
        guard let self else { throw BenchError(message) }
        return self
    }
}
