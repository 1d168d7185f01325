import ArgumentParser
import BenchSupport
import Foundation
import KubeClient
import TestLab

/// `externalTrafficPolicy: Local` through a real kube-proxy: a Local Service's one endpoint moves from node to
/// node (its EndpointSlice rewritten, as the EndpointSlice controller does when a pod is rescheduled); measured is
/// the time from that write to the client's first answer from the pod on the new node. Meanwhile a Cluster
/// Service and a Local Service whose endpoints stay are probed every 10 ms: any failed attempt is a gap.
struct PlacementBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "placement", abstract: "EndpointSlice change → first answer from the new node (Local).")

    @Option(help: "The keepalived-cloud-provider binary (release build).")
    var controllerBinary: String

    @Option(help: "The keepalived-vip-agent binary (release build).")
    var agentBinary: String

    @Option(help: "Endpoint moves.")
    var repeats = 20

    func run() async throws {
        let lab = try await AgentLab(nodeCount: 3)
        lab.agentPath = agentBinary
        var controller: ChildProcess?
        do {
            try FileManager.default.createDirectory(atPath: lab.stateRoot, withIntermediateDirectories: true)
            try await lab.startKubeProxies()
            controller = try lab.spawnController(
                binary: controllerBinary, cluster: "bench", vrids: "40-43", groups: 4, log: "controller.log")
            for node in lab.nodes { try lab.startAgent(node) }
            try await measure(lab)
        } catch {
            await controller?.stop(grace: .seconds(2))
            await lab.tearDown()
            throw error
        }
        await controller?.stop(grace: .seconds(2))
        await lab.tearDown()
    }

    func measure(_ lab: AgentLab) async throws {
        var movers: [String: String] = [:]
        for (index, node) in lab.nodes.enumerated() {
            movers[node] = try lab.startPod("mover-\(node)", on: node, index: 2)
            _ = index
        }
        let clusterPods = try lab.nodes.map { try lab.startPod("cluster-\($0)", on: $0, index: 3) }
        let stayPod = try lab.startPod("stay-n1", on: "n1", index: 4)
        try await lab.loadBalancer("cluster", local: false)
        try await lab.setEndpoints("cluster", zip(clusterPods, lab.nodes).map { ($0, $1, true) })
        try await lab.loadBalancer("stay", local: true)
        try await lab.setEndpoints("stay", [(stayPod, "n1", true)])
        try await lab.loadBalancer("mover", local: true)
        try await lab.setEndpoints("mover", [(movers["n1"]!, "n1", true)])
        var vips: [String: String] = [:]
        for name in ["cluster", "stay", "mover"] {
            try await waitUntilAsync(.seconds(30)) { try await lab.ingress(name) != nil }
            vips[name] = try await lab.ingress(name)
        }
        let mover = vips["mover"]!
        try await waitUntil(.seconds(30)) { lab.ask(mover)?.hasPrefix("mover-n1/") == true }
        try await waitUntil(.seconds(30)) { lab.ask(vips["stay"]!)?.hasPrefix("stay-n1/") == true }
        try await waitUntil(.seconds(30)) { lab.ask(vips["cluster"]!) != nil }

        let steadyOutput = lab.stateRoot + "/placement-steady.jsonl"
        let steady = try ChildProcess.spawn(
            [
                "ip", "netns", "exec", lab.client, "python3",
                TestEnvironment.repositoryRoot + "/scripts/lib/chaos-probe.py",
                "\(vips["cluster"]!),\(vips["stay"]!)", "0.01", "3600", steadyOutput,
            ], outputPath: "/dev/null")
        var samples: [Double] = []
        var current = "n1"
        for index in 0..<repeats {
            let next = lab.nodes[(lab.nodes.firstIndex(of: current)! + 1 + index % 2) % lab.nodes.count]
            let output = lab.stateRoot + "/placement-move.out"
            let expected = "mover-\(next)/192.0.2.100"
            let probe = try Timeline.probe(lab, vip: mover, seconds: 10, output: output, until: expected)
            try await Task.sleep(for: .milliseconds(300))
            let start = Date().timeIntervalSince1970
            try await lab.setEndpoints("mover", [(movers[next]!, next, true)])
            guard await probe.exitStatus() == 0,
                let answered = try Timeline(path: output).firstAnswer(after: start, from: expected)
            else {
                let log =
                    (try? String(contentsOfFile: lab.stateRoot + "/controller.log", encoding: .utf8))?.suffix(1500)
                    ?? ""
                throw BenchError(
                    "mover never answered from \(next); holders \((try? lab.holders(mover)) ?? []); controller: \(log)")
            }
            samples.append((answered - start) * 1000)
            current = next
            try await Task.sleep(for: .milliseconds(500))
        }
        await steady.stop(grace: .seconds(2))
        _ = await steady.exitStatus()
        let steadyRecords = ProbeRecords(path: steadyOutput)
        let longestGap = steadyRecords.gaps.map { ($0.end - $0.start) * 1000 }.max() ?? 0
        report(
            suite: "placement", name: "endpoint_move_to_first_answer_p50", value: percentile(samples, 50), unit: "ms")
        report(suite: "placement", name: "endpoint_move_to_first_answer_max", value: samples.max() ?? .nan, unit: "ms")
        report(suite: "placement", name: "endpoint_move_to_first_answer_min", value: samples.min() ?? .nan, unit: "ms")
        report(suite: "placement", name: "endpoint_moves", value: Double(samples.count), unit: "count")
        report(
            suite: "placement", name: "steady_probe_attempts",
            value: Double(steadyRecords.answered + steadyRecords.failed), unit: "count")
        report(suite: "placement", name: "steady_failed_attempts", value: Double(steadyRecords.failed), unit: "count")
        report(suite: "placement", name: "steady_longest_gap", value: longestGap, unit: "ms")
    }
}

private func waitUntilAsync(_ timeout: Duration, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw BenchError("condition not reached within \(timeout)") }
        try await Task.sleep(for: .milliseconds(10))
    }
}
