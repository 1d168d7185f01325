import CloudProvider
import Foundation
import InMemoryAPI
import KubeClient
import TestLab
import Testing

/// The README's migration from kube-keepalived-vip, in its documented order, with a client probing:
/// 1. the controller's image swapped (it keeps the address the old DaemonSet serves);
/// 2. the agents deployed while the old DaemonSet still runs — on our default VRIDs, which never
///    meet its VRID 50, so the two VRRP domains ignore each other;
/// 3. the old DaemonSet deleted: its keepalived removes the VIP as it stops; ours holds it.
extension AgentFailoverTests {
    /// kube-keepalived-vip's rendering, reduced to what matters on the wire: one instance, VRID 50,
    /// every VIP, unicast between the nodes, no preemption.
    static func predecessorKeepalivedConfig(me: String, peers: [String], priority: Int, vips: [String]) -> String {
        """
        global_defs {
          router_id kube-keepalived-vip
        }
        vrrp_instance vips {
          state BACKUP
          interface eth0
          virtual_router_id 50
          priority \(priority)
          nopreempt
          advert_int 1
          unicast_src_ip \(me)
          unicast_peer {
            \(peers.joined(separator: "\n    "))
          }
          virtual_ipaddress {
            \(vips.map { "\($0)/32" }.joined(separator: "\n    "))
          }
        }

        """
    }

    @Test func migrationFromKubeKeepalivedVIPInTheDocumentedOrderKeepsTheVIPAnswering() async throws {
        let lab = try await AgentLab()
        var predecessors: [ChildProcess] = []
        let outcome = await Result(catching: {
            try lab.startEchoServers()
            // Stands in for kube-proxy, which makes every node accept a LoadBalancer IP: a client whose
            // ARP entry still names the old DaemonSet's node is served there (arp_ignore keeps the
            // answer to ARP with the node that holds the VIP).
            // (Without it, a bare L2 test network lost 40 of 783 probes across the migration to ARP entries
            // still naming the old DaemonSet's node.)
            for node in lab.nodes {
                try mustRun(["ip", "-n", lab.netns(node), "route", "add", "local", "203.0.113.64/26", "dev", "lo"])
                try mustRun(["ip", "netns", "exec", lab.netns(node), "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1"])
            }
            let vip = "203.0.113.65"
            let addresses = lab.nodes.indices.map { "192.0.2.\(11 + $0)" }
            for (index, node) in lab.nodes.enumerated() {
                let directory = lab.stateDirectory(node) + "-predecessor"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try Self.predecessorKeepalivedConfig(
                    me: addresses[index], peers: addresses.filter { $0 != addresses[index] }, priority: 101 + index,
                    vips: [vip]
                ).write(toFile: directory + "/keepalived.conf", atomically: true, encoding: .utf8)
                predecessors.append(
                    try ChildProcess.spawn(
                        [
                            "ip", "netns", "exec", lab.netns(node), "keepalived", "-n", "-l", "-D", "-f",
                            directory + "/keepalived.conf", "-p", directory + "/k.pid", "-r", directory + "/v.pid",
                            "-c", directory + "/c.pid",
                        ], outputPath: directory + "/keepalived.log", newProcessGroup: true))
            }
            #expect(try await eventually { try lab.holders(vip).count == 1 }, "the old DaemonSet serves \(vip)")

            // 1. The controller (the image swapped); it hands the Service the address the old one serves.
            try lab.startController(vrids: ControllerConfiguration.defaultVRIDRange)
            try await lab.loadBalancer("web")
            #expect(try await eventually { try await lab.ingress("web") == vip })

            let output = lab.stateRoot + "/probe-migration.out"
            // 24 s: the 16 the steps take, and 8 for a slow API server to deliver the plan.
            let probe = try lab.startProbe(vip, seconds: 24, output: output)
            try await Task.sleep(for: .milliseconds(500))
            // 2. The agents, beside the old DaemonSet, past keepalived's preempt delay counted from their plan (a CI
            // run's slow API server timed the ConfigMap write out: 8 s from their start were not enough).
            for node in lab.nodes { try lab.startAgent(node) }
            for node in lab.nodes {
                #expect(
                    await eventually(.seconds(8)) { lab.keepalivedConfig(node).contains("vrrp_instance") },
                    "\(node) never had the plan")
            }
            try await Task.sleep(for: .seconds(8))
            // 3. The old DaemonSet goes: SIGTERM, as a pod deletion sends.
            for predecessor in predecessors { predecessor.signalGroup(SIGTERM) }
            for predecessor in predecessors { _ = await predecessor.exitStatus() }
            #expect(await probe.exitStatus() == 0)

            let parts = try String(contentsOfFile: output, encoding: .utf8).split(separator: " ")
            let ok = Int(parts.first ?? "") ?? 0
            let failed = Int(parts.dropFirst().first ?? "") ?? -1
            #expect(ok > 300 && failed == 0, "\(vip) failed \(failed) of \(ok + failed) probes during the migration")
            #expect(try lab.holders(vip).count == 1, "after the migration one node holds \(vip)")
            for node in lab.nodes {
                let config = try String(contentsOfFile: lab.stateDirectory(node) + "/keepalived.conf", encoding: .utf8)
                let vrids = config.split(separator: "\n").compactMap { line -> Int? in
                    let words = line.split(separator: " ")
                    return words.first == "virtual_router_id" ? Int(words.last ?? "") : nil
                }
                #expect(!vrids.isEmpty && vrids.allSatisfy { (100...107).contains($0) }, "\(node): VRIDs \(vrids)")
            }
        })
        for predecessor in predecessors { await predecessor.stop(grace: .seconds(2)) }
        await lab.tearDown()
        try outcome.get()
    }
}
