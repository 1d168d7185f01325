import ArgumentParser
import BenchSupport
import Foundation
import KubeClient
import TestLab

#if canImport(Glibc)
    import Glibc
#endif

/// A pool announced by BGP, end to end: the controller and agents as shipped, kube-proxy v1.20 in every node, a
/// BIRD top-of-rack (multipath, BFD 3 × 100 ms) in the client's namespace. Measured: how 1,000 new connections
/// spread over the nodes; a node's cable pulled (no TCP reset, no BGP notification: only BFD can tell) → the first
/// answer to the same flow from another node; an agent stopped (SIGTERM) → failed new connections meanwhile.
struct BGPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bgp", abstract: "ECMP spread; node loss → first answer from another node (BFD).")

    @Option(help: "The keepalived-cloud-provider binary (release build).")
    var controllerBinary: String

    @Option(help: "The keepalived-vip-agent binary (release build).")
    var agentBinary: String

    @Option(help: "Cable pulls.")
    var repeats = 10

    @Option(help: "The BGPPeer's BFD intervals, milliseconds (receive and transmit).")
    var bfdInterval = 100

    @Option(help: "The BGPPeer's BFD multiplier (missed packets before the session is down).")
    var bfdMultiplier = 3

    @Option(help: "Address families to measure, one lab each: ipv4, ipv6 or both.")
    var family = "both"

    func run() async throws {
        guard ["ipv4", "ipv6", "both"].contains(family) else {
            throw BenchError("--family \"\(family)\": use ipv4, ipv6 or both")
        }
        report(suite: "bgp", name: "bfd_interval", value: Double(bfdInterval), unit: "ms")
        report(suite: "bgp", name: "bfd_multiplier", value: Double(bfdMultiplier), unit: "count")
        if family != "ipv6" { try await measure(ipv6: false) }
        if family != "ipv4" {
            // IPv6 through kube-proxy needs its dual-stack mode, and that a dual-stack control plane.
            let cluster = try await TestEnvironment.start(prefix: "bgp6", dualStack: true)
            let outcome = await Result { try await measure(ipv6: true, cluster: cluster) }
            await cluster.stop()
            try outcome.get()
        }
    }

    func measure(ipv6: Bool, cluster: TestCluster? = nil) async throws {
        let lab = try await AgentLab(nodeCount: 3, ipv6: ipv6, cluster: cluster)
        lab.agentPath = agentBinary
        var controller: ChildProcess?
        let peer = "\(lab.namespace)-tor"
        let outcome = await Result {
            try FileManager.default.createDirectory(atPath: lab.stateRoot, withIntermediateDirectories: true)
            try await lab.startKubeProxies()
            try lab.installBGPPeerResource()
            try await lab.applyBGPObjects(peer: peer, bfdInterval: bfdInterval, bfdMultiplier: bfdMultiplier)
            try lab.startBGPRouter()
            controller = try lab.spawnController(
                binary: controllerBinary, cluster: "bench", vrids: "40-43", groups: 4, log: "controller.log")
            for node in lab.nodes { try lab.startAgent(node) }
            try await measure(lab)
        }
        await controller?.stop(grace: .seconds(2))
        for name in [peer, peer + "-v6"] {
            _ = try? runCommand(["kubectl", "--kubeconfig", lab.cluster.adminKubeconfig, "delete", "bgppeer", name])
        }
        await lab.tearDown()
        try outcome.get()
    }

    func measure(_ lab: AgentLab) async throws {
        // Local: each node answers with its own pod, so an answer names the node the router chose.
        var pods: [String] = []
        for node in lab.nodes { pods.append(try lab.startPod("web-\(node)", on: node, index: 3)) }
        try await lab.loadBalancer("web", local: true, dualStack: lab.ipv6)
        try await lab.setEndpoints("web", zip(pods, lab.nodes).map { ($0, $1, true) })
        let vip: String
        let everyNode: [String]
        if lab.ipv6 {
            try await lab.setEndpoints("web", lab.nodes.map { (lab.podAddress6(on: $0, index: 3), $0, true) })
            let addresses = try await lab.awaitIngresses("web", count: 2, seconds: 30)
            guard let address = addresses.first(where: { $0.contains(":") }) else {
                throw BenchError("the dual-stack Service got no IPv6 address: \(addresses)")
            }
            vip = address
            everyNode = lab.nodes.indices.map { "2001:db8::\(11 + $0)" }
        } else {
            vip = try await lab.awaitIngress("web", seconds: 30)
            everyNode = lab.nodes.indices.map { "192.0.2.\(11 + $0)" }
        }
        let suite = lab.ipv6 ? "bgp_ipv6" : "bgp"
        try await until(.seconds(60), "the router learns \(vip) from every node") {
            try lab.bgpNextHops(vip) == everyNode
        }

        let spread = try mustRun(AgentLab.labNet(in: lab.client, ["spread", vip, "8080", "1000"]))
        var counts: [String: Int] = [:]
        for item in spread.split(whereSeparator: \.isWhitespace) {
            let parts = item.split(separator: "=")
            guard parts.count == 2, let count = Int(parts[1]) else { continue }
            counts[String(parts[0].split(separator: "/").first ?? parts[0]), default: 0] += count
        }
        for node in lab.nodes {
            report(suite: suite, name: "spread_1000_\(node)", value: Double(counts["web-\(node)"] ?? 0), unit: "count")
        }
        report(suite: suite, name: "spread_1000_failed", value: Double(counts["failed"] ?? 0), unit: "count")

        var samples: [Double] = []
        var returns: [Double] = []
        for round in 0..<repeats {
            let output = lab.stateRoot + "/bgp-pinned.out"
            let sourcePort = 40_000 + round
            // Which node this flow goes to now: the first answer (none starts with "-"), within 2 s.
            let learn = try ChildProcess.spawn(
                AgentLab.labNet(in: lab.client, ["pinned", vip, "8080", "\(sourcePort)", "2", output, "-"]),
                outputPath: "/dev/null")
            _ = await learn.exitStatus()
            guard let first = try Timeline(path: output).attempts.first(where: { $0.node != nil })?.node,
                let node = lab.nodes.first(where: { first.hasPrefix("web-\($0)/") })
            else { throw BenchError("the pinned flow got no answer: \(spread)") }
            let probe = try ChildProcess.spawn(
                AgentLab.labNet(
                    in: lab.client, ["pinned", vip, "8080", "\(sourcePort)", "10", output, "web-\(node)/"]),
                outputPath: "/dev/null")
            try await Task.sleep(for: .milliseconds(300))
            let start = Date().timeIntervalSince1970
            try mustRun(["ip", "-n", lab.switchNamespace, "link", "set", "v-\(node)", "down"])
            // The first answer from another node (an answer from the cut node may still arrive just after the cut).
            guard await probe.exitStatus() == 0,
                let answered = try Timeline(path: output).attempts.first(where: {
                    $0.time >= start && $0.node != nil && $0.node?.hasPrefix("web-\(node)/") == false
                })?.time
            else {
                throw BenchError("the flow never answered from another node after \(node) was cut off")
            }
            samples.append((answered - start) * 1000)
            let reconnected = ContinuousClock.now
            try mustRun(["ip", "-n", lab.switchNamespace, "link", "set", "v-\(node)", "up"])
            try await until(.seconds(90), "\(node)'s session is back") { try lab.bgpNextHops(vip) == everyNode }
            let back = ContinuousClock.now - reconnected
            returns.append(Double(back.components.seconds) * 1000 + Double(back.components.attoseconds) / 1e15)
        }
        report(suite: suite, name: "link_back_to_announced_p50", value: percentile(returns, 50), unit: "ms")
        report(suite: suite, name: "link_back_to_announced_max", value: returns.max() ?? .nan, unit: "ms")
        report(suite: suite, name: "node_loss_to_other_node_p50", value: percentile(samples, 50), unit: "ms")
        report(suite: suite, name: "node_loss_to_other_node_max", value: samples.max() ?? .nan, unit: "ms")
        report(suite: suite, name: "node_loss_to_other_node_min", value: samples.min() ?? .nan, unit: "ms")
        report(suite: suite, name: "node_losses", value: Double(samples.count), unit: "count")

        // An agent stopped: BIRD closes its sessions first, so no new connection meets a withdrawn node.
        let steadyOutput = lab.stateRoot + "/bgp-steady.jsonl"
        let steady = try ChildProcess.spawn(
            [
                "ip", "netns", "exec", lab.client, "python3",
                TestEnvironment.repositoryRoot + "/scripts/lib/chaos-probe.py", vip, "0.01", "3600", steadyOutput,
            ], outputPath: "/dev/null")
        try await Task.sleep(for: .seconds(1))
        lab.agents["n1"]?.signal(SIGTERM)
        try await until(.seconds(10), "n1's routes withdrawn") {
            try lab.bgpNextHops(vip) == Array(everyNode.dropFirst())
        }
        try await Task.sleep(for: .seconds(2))
        await steady.stop(grace: .seconds(2))
        _ = await steady.exitStatus()
        let records = ProbeRecords(path: steadyOutput)
        report(
            suite: suite, name: "agent_stop_probe_attempts", value: Double(records.answered + records.failed),
            unit: "count")
        report(suite: suite, name: "agent_stop_failed_attempts", value: Double(records.failed), unit: "count")
    }

    private func until(_ timeout: Duration, _ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw BenchError("not within \(timeout): \(what)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

extension AgentLab {
    /// The BGP pool and the router as a BGPPeer of this lab's nodes. `preferred`: the pool of every new Service of
    /// this lab's namespace; else only of those that ask for it by annotation.
    func applyBGPObjects(peer: String, bfdInterval: Int, bfdMultiplier: Int, preferred: Bool = true) async throws {
        let path = stateRoot + "/bgp-objects.yaml"
        let bfd = """
            bfd: {receiveIntervalMilliseconds: \(bfdInterval), transmitIntervalMilliseconds: \(bfdInterval), \
            multiplier: \(bfdMultiplier)}
            """
        var objects = """
            apiVersion: keepalived-lb.io/v1alpha1
            kind: VIPPool
            metadata: {name: \(namespace)-bgp}
            spec:
              addresses: ["203.0.113.128/27"\(ipv6 ? ", \"2001:db8:3::/120\"" : "")]
              namespaces: [\(namespace)]
              \(preferred ? "priority: 10" : "autoAssign: false")
              announcement: {mode: BGP}
            ---
            apiVersion: keepalived-lb.io/v1alpha1
            kind: BGPPeer
            metadata: {name: \(peer)}
            spec:
              peerAddress: 192.0.2.100
              peerASN: 64512
              localASN: 64513
              holdTimeSeconds: 9
              nodeSelector: {matchLabels: {keepalived-lb.io/test: \(namespace)}}
              \(bfd)

            """
        if ipv6 {
            // Routes go to the peers of their family: the router's IPv6 address is a peer of its own.
            objects += """
                ---
                apiVersion: keepalived-lb.io/v1alpha1
                kind: BGPPeer
                metadata: {name: \(peer)-v6}
                spec:
                  peerAddress: "2001:db8::100"
                  peerASN: 64512
                  localASN: 64513
                  holdTimeSeconds: 9
                  nodeSelector: {matchLabels: {keepalived-lb.io/test: \(namespace)}}
                  \(bfd)

                """
        }
        try objects.write(toFile: path, atomically: true, encoding: .utf8)
        let kubectl = ["kubectl", "--kubeconfig", cluster.adminKubeconfig]
        try mustRun(kubectl + ["apply", "-f", TestEnvironment.repositoryRoot + "/deploy/base/vippools.yaml"])
        try mustRun(
            kubectl + ["wait", "--for=condition=Established", "crd/vippools.keepalived-lb.io", "--timeout=30s"])
        try mustRun(kubectl + ["apply", "-f", path])
        // Without waiting: the controller (which would remove its finalizer) may be stopped already.
        onTearDown.append {
            _ = try? runCommand(kubectl + ["delete", "vippool", "\(self.namespace)-bgp", "--wait=false"])
        }
    }
}
