import BenchSupport
import Foundation
import KubeClient
import TestLab

/// The chaos run's second lab: `externalTrafficPolicy: Local` through a real kube-proxy. A Local Service's endpoint
/// moves between nodes, a node's endpoints all turn not-ready and back; meanwhile a Cluster Service and a Local
/// Service whose endpoint stays are probed every 10 ms. Invariants: those two never fail; a moved VIP answers
/// from its new node within a second; a Local VIP is never held for longer than a second by a node without a
/// ready endpoint.
actor PlacementChaos {
    let lab: AgentLab
    let controllerBinary: String
    let moves: Int
    var violations: [String] = []
    var controller: ChildProcess?
    /// Per Local Service: its VIP, the nodes with a ready endpoint, and since when.
    var local: [String: (vip: String, nodes: Set<String>, since: Double)] = [:]
    var wrongSince: [String: Double] = [:]
    var sampling = true

    init(lab: AgentLab, controllerBinary: String, moves: Int) {
        self.lab = lab
        self.controllerBinary = controllerBinary
        self.moves = moves
    }

    static func now() -> Double { Date().timeIntervalSince1970 }

    func violation(_ text: String) {
        guard !violations.contains(text) else { return }
        violations.append(text)
        printViolation(text)
    }

    func report(_ name: String, _ value: Double, _ unit: String) {
        BenchSupport.report(suite: "chaos", name: name, value: value, unit: unit)
    }

    func run() async throws -> [String] {
        try FileManager.default.createDirectory(atPath: lab.stateRoot, withIntermediateDirectories: true)
        try await lab.startKubeProxies()
        controller = try lab.spawnController(
            binary: controllerBinary, cluster: "chaos", vrids: "60-63", groups: 4, log: "placement-controller.log")
        for node in lab.nodes { try lab.startAgent(node) }
        var pods: [String: [String: String]] = [:]  // service → node → pod address
        for (slot, service) in ["cluster", "stay", "mover", "flap"].enumerated() {
            for node in lab.nodes {
                pods[service, default: [:]][node] = try lab.startPod(
                    "\(service.prefix(2))-\(node)", on: node, index: 2 + slot)
            }
        }
        try await lab.loadBalancer("cluster", local: false)
        try await lab.setEndpoints("cluster", lab.nodes.map { (pods["cluster"]![$0]!, $0, true) })
        for service in ["stay", "mover", "flap"] { try await lab.loadBalancer(service, local: true) }
        try await setLocal("stay", ["n1"], pods)
        try await setLocal("mover", ["n1"], pods)
        try await setLocal("flap", ["n2", "n3"], pods)
        var vips: [String: String] = [:]
        for service in ["cluster", "stay", "mover", "flap"] {
            try await waitUntil(30, "\(service) has an address") { try await self.lab.ingress(service) != nil }
            vips[service] = try await lab.ingress(service)
            if local[service] != nil { local[service]?.vip = vips[service]! }
        }
        for service in ["cluster", "stay", "mover", "flap"] {
            let vip = vips[service]!
            try await waitUntil(30, "\(service) answers") { self.lab.ask(vip) != nil }
        }
        let probeOutput = lab.stateRoot + "/placement-probe.jsonl"
        let probe = try ChildProcess.spawn(
            [
                "ip", "netns", "exec", lab.client, "python3",
                TestEnvironment.repositoryRoot + "/scripts/lib/chaos-probe.py",
                "\(vips["cluster"]!),\(vips["stay"]!)", "0.01", "600", probeOutput,
            ], outputPath: "/dev/null")
        try await Task.sleep(for: .seconds(1))
        async let sampler: Void = sample()

        // Endpoints moving between nodes: the VIP answers from the new node's pod within a second.
        var slowest = 0.0
        var current = "n1"
        for index in 0..<moves {
            let next = lab.nodes[(lab.nodes.firstIndex(of: current)! + 1 + index % 2) % lab.nodes.count]
            let started = Self.now()
            try await setLocal("mover", [next], pods)
            let expected = "mo-\(next)/192.0.2.100"
            var answered: Double?
            while Self.now() - started < 3 {
                if lab.ask(vips["mover"]!) == expected {
                    answered = Self.now()
                    break
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            guard let answered else {
                violation("mover never answered from \(next) within 3 s of its endpoint moving there")
                break
            }
            slowest = max(slowest, (answered - started) * 1000)
            if answered - started > 1 {
                violation(
                    String(
                        format: "mover answered from %@ %.0f ms after its endpoint moved", next,
                        (answered - started) * 1000))
            }
            current = next
            try await Task.sleep(for: .milliseconds(500))
        }
        report("placement_moves", Double(moves), "count")
        report("placement_move_to_answer_max", slowest, "ms")

        // A node's endpoints all turn not-ready (its pods failing their probes), then ready again.
        for node in ["n2", "n3", "n2"] {
            try await setLocal("flap", Set(["n2", "n3"]).subtracting([node]), pods)
            try await Task.sleep(for: .seconds(2))
            try await setLocal("flap", ["n2", "n3"], pods)
            try await Task.sleep(for: .seconds(2))
        }
        let flap = vips["flap"]!
        try await waitUntil(5, "flap answers") { self.lab.ask(flap) != nil }

        sampling = false
        await sampler
        probe.signal(SIGTERM)
        _ = await probe.exitStatus()
        let records = ProbeRecords(path: probeOutput)
        for gap in records.gaps {
            violation(
                String(
                    format: "steady VIP %@ failed for %.0f ms while other endpoints moved", gap.vip,
                    (gap.end - gap.start) * 1000))
        }
        report("placement_steady_failed_attempts", Double(records.failed), "count")
        await controller?.stop(grace: .seconds(2))
        return violations
    }

    /// Sets a Local Service's ready endpoints to its pods on `nodes` (the others listed not ready).
    func setLocal(_ service: String, _ nodes: Set<String>, _ pods: [String: [String: String]]) async throws {
        let endpoints = lab.nodes.map { (pods[service]![$0]!, $0, nodes.contains($0)) }
        try await lab.setEndpoints(service, endpoints)
        local[service] = (local[service]?.vip ?? "", nodes, Self.now())
    }

    /// Every 100 ms: a Local VIP held by a node without a ready endpoint for longer than a second is a violation.
    func sample() async {
        while sampling {
            let now = Self.now()
            for (service, state) in local where !state.vip.isEmpty {
                let holders = Set((try? lab.holders(state.vip)) ?? [])
                let wrong = holders.subtracting(state.nodes)
                if wrong.isEmpty {
                    wrongSince[service] = nil
                } else {
                    let since = max(wrongSince[service] ?? now, state.since)
                    wrongSince[service] = since
                    if now - since > 1 {
                        violation("\(service)'s VIP held by \(wrong.sorted()) without a ready endpoint for over 1 s")
                    }
                }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    func waitUntil(_ seconds: Double, _ what: String, _ condition: @Sendable () async throws -> Bool) async throws {
        let deadline = Self.now() + seconds
        while Self.now() < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        violation("timed out after \(Int(seconds)) s waiting for: \(what)")
        throw BenchError("placement chaos: \(what)")
    }

    func stop() async { await controller?.stop(grace: .seconds(2)) }
}
