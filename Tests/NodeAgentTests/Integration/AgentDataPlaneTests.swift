import CloudProvider
import Foundation
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
import Logging
import NodeAgent
import TestLab
import TestTraits
import Testing

/// No VIP goes down unless its own Service asked: what happens to the other VIPs when one
/// Service leaves, or when the plan disappears. Real keepalived in namespaces, a client probing.
extension AgentFailoverTests {
    /// Probe output: successes, failures, the nodes that answered.
    private func probeResult(_ path: String) throws -> (ok: Int, failed: Int, answeredBy: Set<String>) {
        let parts = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            .split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let ok = Int(parts[0]), let failed = Int(parts[1]) else {
            throw TestEnvironmentError(message: "unreadable probe output: \(parts)")
        }
        return (ok, failed, Set(parts[2].split(separator: ",").map(String.init)))
    }

    /// The VRRP tokens (`AdvertisedAddresses.token`) on a node's loopback device.
    private func tokens(_ lab: AgentLab, _ node: String) throws -> [String] {
        try lab.lab.addresses(in: lab.netns(node), interface: "lo").filter { $0 != "127.0.0.1" && $0 != "::1" }
    }

    /// One VRRP instance for every VIP: deleting one Service must not interrupt the others. The
    /// agent used to remove the departing address before keepalived had re-read its
    /// configuration; keepalived saw a VIP vanish from its MASTER instance and gave the instance up.
    @Test func deletingOneServiceDoesNotInterruptTheOtherVIPsOfItsInstance() async throws {
        let lab = try await AgentLab()
        let outcome = await Result(catching: {
            try lab.startController(groups: 1)
            for node in lab.nodes { try lab.startAgent(node) }
            try lab.startEchoServers()
            try await lab.loadBalancer("stays")
            let stays = "203.0.113.65"
            #expect(try await eventually { try await lab.ingress("stays") == stays })
            try await lab.loadBalancer("leaves")
            let leaves = try #require(
                try await eventually { try await lab.ingress("leaves") != nil } ? try await lab.ingress("leaves") : nil)
            // The first election of both agents' keepalived: as long as `settledHolder` allows on a busy machine.
            #expect(
                try await eventually(.seconds(30)) {
                    try lab.holders(stays).count == 1 && lab.holders(leaves) == lab.holders(stays)
                }, "both VIPs on one node:\n\(lab.diagnosis(of: [stays, leaves]))")
            let master = try await lab.settledHolder(of: stays)

            let output = lab.stateRoot + "/probe-delete.out"
            let probe = try lab.startProbe(stays, seconds: 4, output: output)
            try await Task.sleep(for: .milliseconds(500))
            try await lab.admin.delete(Service.self, namespace: lab.namespace, name: "leaves")
            #expect(await probe.exitStatus() == 0)
            let result = try probeResult(output)
            #expect(result.ok > 50, "probe: \(result)")
            #expect(result.failed == 0, "\(stays) was interrupted when another Service of its instance left: \(result)")
            #expect(result.answeredBy == [master], "always answered by the same node: \(result)")
            #expect(try await eventually { try lab.holders(leaves).isEmpty }, "the departed VIP is on no node")
            #expect(try lab.holders(stays) == [master])
        })
        await lab.tearDown()
        try outcome.get()
    }

    /// An agent that applies a plan change seconds late (stopped here; in a chaos run its ConfigMap watch
    /// stalled while etcd was compacted) must not split the instance. keepalived drops an advert whose
    /// address list differs from its own: with the VIPs themselves in the adverts, the lagging backup stopped
    /// hearing the master and became a second master of every VIP of the instance, and a lagging master
    /// ignored its backup's adverts just the same.
    @Test func anAgentThatAppliesAPlanLateSplitsNoInstance() async throws {
        let lab = try await AgentLab()
        let outcome = await Result(catching: {
            for node in lab.nodes { try lab.startAgent(node) }
            try lab.startEchoServers()
            let stays = "203.0.113.65"
            var vips = [stays]
            try await lab.writePlan(vips: vips)
            #expect(try await eventually(.seconds(30)) { try lab.holders(stays) == ["n1"] })
            try await Task.sleep(for: .seconds(1))
            try #require(try lab.holders(stays) == ["n1"], "settled on the preferred node n1")

            for (round, lagging) in ["n2", "n1"].enumerated() {
                let agent = try #require(lab.agents[lagging])
                lab.onTearDown.append { agent.signal(SIGCONT) }
                agent.signal(SIGSTOP)
                let output = lab.stateRoot + "/probe-lag-\(round).out"
                let probe = try lab.startProbe(stays, seconds: 3.5, output: output)
                try await Task.sleep(for: .milliseconds(300))
                let added = "203.0.113.\(66 + round)"
                vips.append(added)
                try await lab.writePlan(vips: vips)
                // Well past three adverts and the skew (~0.8 s): a backup that drops the master's adverts is master by now.
                var seen: [[String]] = []
                for _ in 0..<25 {
                    seen.append(try lab.holders(stays))
                    try await Task.sleep(for: .milliseconds(100))
                }
                agent.signal(SIGCONT)
                #expect(await probe.exitStatus() == 0)
                let result = try probeResult(output)
                #expect(seen.allSatisfy { $0 == ["n1"] }, "\(lagging) lagging: \(stays) was held by \(Set(seen))")
                #expect(result.failed == 0 && result.ok > 50, "\(lagging) lagging: probe \(result)")
                #expect(result.answeredBy == ["n1"], "\(lagging) lagging: answered by \(result.answeredBy)")
                #expect(
                    try await eventually(.seconds(10)) { try lab.holders(added) == ["n1"] },
                    "the lagging agent caught up and \(added) is served")
                #expect(try lab.holders(stays) == ["n1"])
            }
        })
        await lab.tearDown()
        try outcome.get()
    }

    /// While another node of the plan publishes the state of an agent from before the token (no
    /// `tokenAdverts`), this agent lists the VIPs in its adverts as that one does; once that node publishes a
    /// current state, it renders the token. keepalived accepts both renderings.
    @Test func advertsListTheVIPsWhileANodeRunsAnAgentFromBeforeTheToken() async throws {
        let lab = try await AgentLab()
        let outcome = await Result(catching: {
            func annotate(_ state: String) async throws {
                _ = try await lab.admin.patch(
                    Node.self, name: lab.nodeName("n2"),
                    .merge(["metadata": ["annotations": [NodeVRRPState.annotation: .string(state)]]]))
            }
            try await annotate(#"{"instances":{},"keepalived":"running","vips":[]}"#)
            try lab.startAgent("n1")
            let vip = "203.0.113.65"
            try await lab.writePlan(vips: [vip])
            #expect(try await eventually(.seconds(30)) { try lab.holders(vip) == ["n1"] })
            let config = lab.stateDirectory("n1") + "/keepalived.conf"
            let legacy = try String(contentsOfFile: config, encoding: .utf8)
            #expect(legacy.contains("virtual_ipaddress {\n        \(vip)/32 dev eth0\n"), "\(legacy)")
            #expect(!legacy.contains("virtual_ipaddress_excluded"))
            #expect(try tokens(lab, "n1").isEmpty)

            try await annotate(NodeVRRPState(running: true, instances: [:], vips: []).json())
            #expect(
                try await eventually(.seconds(10)) {
                    try String(contentsOfFile: config, encoding: .utf8).contains(
                        "virtual_ipaddress_excluded {\n        \(vip)/32")
                        && (try tokens(lab, "n1")).count == 1
                }, "token adverts once n2 publishes a current state")
            #expect(try lab.holders(vip) == ["n1"], "the switch kept the VIP where it was")
        })
        await lab.tearDown()
        try outcome.get()
    }

    /// A deleted or emptied ConfigMap is not an empty plan: every VIP stays where it is, the
    /// agents say why, and once the controller rewrites it nothing moves.
    @Test func aMissingOrEmptiedConfigMapKeepsEveryVIPServed() async throws {
        let lab = try await AgentLab()
        let outcome = await Result(catching: {
            let (vip, master) = try await lab.oneVIPServedThenControllerStopped()

            let output = lab.stateRoot + "/probe-absent.out"
            let probe = try lab.startProbe(vip, seconds: 6, output: output)
            try await Task.sleep(for: .milliseconds(300))
            try await lab.admin.delete(ConfigMap.self, namespace: lab.namespace, name: "vip-configmap")
            try await Task.sleep(for: .seconds(2))
            // Still on its node (a node starved of CPU may briefly see a second holder; the probe
            // below is the proof that the VIP never went dark).
            #expect(try lab.holders(vip).contains(master), "the VIP stays while the ConfigMap is gone")
            // Emptied: present, but without the plan key.
            _ = try await lab.admin.create(
                ConfigMap(name: "vip-configmap", namespace: lab.namespace, data: ["203.0.113.65": "x/y"]))
            try await Task.sleep(for: .seconds(2))
            #expect(try lab.holders(vip).contains(master), "the VIP stays while the plan key is missing")
            #expect(await probe.exitStatus() == 0)
            let result = try probeResult(output)
            #expect(result.failed == 0 && result.ok > 100, "\(vip) went dark while the plan was absent: \(result)")
            for node in lab.nodes {
                let log = try String(contentsOfFile: lab.agentLog(node), encoding: .utf8)
                #expect(log.contains("keeping the previous one") && log.contains("does not exist"), "\(node) says why")
                #expect(log.contains("has no key keepalived-lb.vrrp-plan"), "\(node) says why")
                #expect(lab.metrics(node).contains("keepalived_lb_agent_plan_kept_total"))
            }

            // The controller comes back and rewrites the plan: nothing moves (keepalived.conf is
            // byte for byte what it was, so no reload either).
            let configs = try lab.nodes.map {
                try String(contentsOfFile: lab.stateDirectory($0) + "/keepalived.conf", encoding: .utf8)
            }
            try lab.startController()
            #expect(
                try await eventually {
                    let data = try await lab.admin.get(ConfigMap.self, namespace: lab.namespace, name: "vip-configmap")
                        .data
                    return data["keepalived-lb.vrrp-plan"] != nil
                })
            try await Task.sleep(for: .seconds(1))
            let finalHolders =
                try await eventually(.seconds(5)) { try lab.holders(vip) == [master] } ? [master] : try lab.holders(vip)
            #expect(finalHolders == [master], "holders \(finalHolders), master \(master)")
            let after = try lab.nodes.map {
                try String(contentsOfFile: lab.stateDirectory($0) + "/keepalived.conf", encoding: .utf8)
            }
            #expect(after == configs, "the rewritten plan is the one in force")
        })
        await lab.tearDown()
        try outcome.get()
    }

    /// A VIP that starts a new VRRP instance: its preferred node starts it as master at once
    /// (priority 255, nobody can be master of it yet), then renders it at its usual priority again so
    /// that a later keepalived restart waits its preempt delay. The other node never holds it.
    @Test func aNewInstanceStartsOnItsPreferredNodeThenReturnsToItsUsualPriority() async throws {
        let lab = try await AgentLab()
        let outcome = await Result(catching: {
            try lab.startController(groups: 4)
            for node in lab.nodes { try lab.startAgent(node) }
            try await lab.loadBalancer("first")
            #expect(try await eventually { try lab.holders("203.0.113.65").count == 1 })
            try await lab.loadBalancer("second")
            let vip = try #require(
                try await eventually { try await lab.ingress("second") != nil } ? try await lab.ingress("second") : nil)
            let plan = try #require(
                try await eventually {
                    let text = try await lab.admin.get(ConfigMap.self, namespace: lab.namespace, name: "vip-configmap")
                        .data["keepalived-lb.vrrp-plan"]
                    return text?.contains(vip) == true
                }
                    ? try VRRPPlan(
                        json: try await lab.admin.get(ConfigMap.self, namespace: lab.namespace, name: "vip-configmap")
                            .data["keepalived-lb.vrrp-plan"] ?? "") : nil)
            let instance = try #require(plan.instances.first { $0.addresses.contains(try IPAddress(vip)) })
            let first = try #require(plan.instances.first { $0.addresses.contains(try IPAddress("203.0.113.65")) })
            try #require(instance.vrid != first.vrid, "the second VIP hashes to another instance (four groups)")
            let preferred = try #require(lab.nodes.first { lab.nodeName($0) == plan.nodes[instance.preferred] })
            var seen: Set<String> = []
            #expect(
                try await eventually(.seconds(10)) {
                    // One reading per round: two could straddle the moment the VIP appears.
                    let holding = try lab.holders(vip)
                    seen.formUnion(holding)
                    return holding == [preferred]
                })
            #expect(seen == [preferred], "only the preferred node ever held \(vip): \(seen)")
            let name = plan.instanceName(instance)
            let log = try String(contentsOfFile: lab.stateDirectory(preferred) + "/keepalived.log", encoding: .utf8)
            let master = try #require(
                log.range(of: "(\(name)) Entering MASTER STATE"), "\(name) became master on \(preferred)")
            // Started as master, not as a backup waiting out three adverts for a master that cannot exist.
            #expect(!log[..<master.lowerBound].contains("(\(name)) Entering BACKUP STATE"), "\(log.suffix(1500))")
            #expect(
                await eventually {
                    let config =
                        (try? String(
                            contentsOfFile: lab.stateDirectory(preferred) + "/keepalived.conf", encoding: .utf8)) ?? ""
                    return !config.contains("priority 255") && !config.contains("state MASTER") && config.contains(name)
                }, "back to its usual priority once it is master")
        })
        await lab.tearDown()
        try outcome.get()
    }

    /// keepalived SIGKILLed, its agent alive: once the whole group is gone and the VIP removed, the
    /// agent sends the priority-0 advert keepalived would have sent, and the backup (real keepalived)
    /// takes over at once instead of after three adverts.
    @Test func aCrashedKeepalivedsBackupIsToldAtOnce() async throws {
        let lab = try await AgentLab()
        let outcome = await Result(catching: {
            try lab.startController()
            for node in lab.nodes { try lab.startAgent(node) }
            try await lab.loadBalancer("web")
            let vip = "203.0.113.65"
            #expect(try await eventually { try lab.holders(vip).count == 1 })
            let master = try await lab.settledHolder(of: vip)
            let backup = try #require(lab.nodes.first { $0 != master })
            let token = try #require(try tokens(lab, master).first, "the master's keepalived put its token on lo")
            #expect(try tokens(lab, backup).isEmpty)
            let pid = try #require(lab.keepalivedPid(master))
            kill(-pid, SIGKILL)
            var seen: [[String]] = []
            let tookOver = try await eventually(.seconds(10)) {
                let now = try lab.holders(vip)
                if seen.last != now { seen.append(now) }
                return now == [backup]
            }
            // Who held it in turn, and what each keepalived said, tell a lost advert from a slow restart.
            #expect(tookOver, "holders in turn: \(seen)\n\(lab.diagnosis(of: [vip], lines: 30))")
            // The advert the agent sent listed the token: keepalived drops one whose list differs from its own.
            #expect(try tokens(lab, backup) == [token])
            #expect(try await eventually { try tokens(lab, master).isEmpty }, "the dead keepalived's token is gone")
            #expect(
                await eventually {
                    let log =
                        (try? String(contentsOfFile: lab.stateDirectory(backup) + "/keepalived.log", encoding: .utf8))
                        ?? ""
                    return log.contains("received priority 0 advertisement")
                }, "the backup's keepalived heard the priority-0 advert")
            #expect(lab.metrics(master).contains("keepalived_lb_agent_release_adverts_total 1"))
        })
        await lab.tearDown()
        try outcome.get()
    }

    /// The same for an IPv6 instance, end to end through the agent (the plan written straight into the
    /// ConfigMap: the v1.20 test server is single-stack, so no controller gives out IPv6 here): the agent's
    /// priority-0 advert goes to the peer's IPv6 address with the IPv6 pseudo-header checksum, and the
    /// backup's keepalived takes the IPv6 VIP over at once.
    @Test func aCrashedKeepalivedsIPv6BackupIsToldAtOnce() async throws {
        let lab = try await AgentLab(ipv6: true)
        let outcome = await Result(catching: {
            for node in lab.nodes { try lab.startAgent(node) }
            let vip = "2001:db8:1::65"
            try await lab.writePlan(vips: [vip], family: .ipv6)
            // n1 is the instance's preferred node: wait until it holds the VIP (a node whose keepalived
            // started first may hold it for the preempt delay).
            #expect(try await eventually(.seconds(30)) { try lab.holders(vip) == ["n1"] })
            #expect(try tokens(lab, "n1").contains { $0.hasPrefix("fe80::5652:") })
            // The agent sends priority 0 only for an instance keepalived reported master to it. Killed before the
            // agent read that report (a loaded CI run), the backup waited out three adverts and the test failed.
            #expect(
                await eventually(.seconds(10)) {
                    lab.metrics("n1").split(separator: "\n").contains {
                        $0.hasPrefix("keepalived_lb_agent_vrrp_state{") && $0.hasSuffix(" 2.0")
                    }
                }, "n1's agent heard keepalived report master\n\(lab.diagnosis(of: [vip], lines: 30))")
            let pid = try #require(lab.keepalivedPid("n1"))
            kill(-pid, SIGKILL)
            #expect(try await eventually(.seconds(10)) { try lab.holders(vip) == ["n2"] })
            #expect(
                await eventually {
                    let log =
                        (try? String(contentsOfFile: lab.stateDirectory("n2") + "/keepalived.log", encoding: .utf8))
                        ?? ""
                    return log.contains("received priority 0 advertisement")
                }, "the backup's keepalived heard the IPv6 priority-0 advert\n\(lab.diagnosis(of: [vip], lines: 30))")
            #expect(lab.metrics("n1").contains("keepalived_lb_agent_release_adverts_total 1"))
        })
        await lab.tearDown()
        try outcome.get()
    }

    /// The controller's replicas come and go (the leader killed, a standby taking over, as a Deployment rollout or a
    /// deleted leader pod does) while clients connect every 10 ms: no failed connection, every address and the
    /// plan's groups kept.
    @Test func aNewLeaderKeepsEveryVIPWhereItIs() async throws {
        let lab = try await AgentLab()
        let outcome = await Result(catching: {
            let binary = try #require(TestEnvironment.builtBinary("keepalived-cloud-provider"))
            try FileManager.default.createDirectory(atPath: lab.stateRoot, withIntermediateDirectories: true)
            func replica(_ name: String) throws -> ChildProcess {
                let process = try ChildProcess.spawn(
                    [
                        binary, "--kubeconfig", lab.cluster.adminKubeconfig, "--cidr", "203.0.113.64/26",
                        "--namespace", lab.namespace, "--watch-namespace", lab.namespace, "--cluster-name", "lab",
                        "--node-selector", "keepalived-lb.io/test=\(lab.namespace)", "--vrid-range", "10-13",
                        "--vrrp-groups", "4", "--leader-elect-lease-duration", "4", "--leader-elect-renew-deadline",
                        "3", "--leader-elect-retry-period", "1", "--metrics-bind-address", "0",
                        "--health-bind-address", "0",
                    ], outputPath: lab.stateRoot + "/controller-\(name).log")
                lab.onTearDown.append { await process.stop(grace: .seconds(5)) }
                return process
            }
            let first = try replica("a")
            for node in lab.nodes { try lab.startAgent(node) }
            try lab.startEchoServers()
            try await lab.loadBalancer("web")
            try await lab.loadBalancer("api")
            let vips = ["203.0.113.65", "203.0.113.66"]
            let holders = [try await lab.settledHolder(of: vips[0]), try await lab.settledHolder(of: vips[1])]
            let plan = try await lab.admin.get(ConfigMap.self, namespace: lab.namespace, name: "vip-configmap")
                .data[VRRPPlan.dataKey].map { try VRRPPlan(json: $0) }
            let addresses = [try await lab.ingress("web"), try await lab.ingress("api")]
            #expect(Set(addresses.compactMap { $0 }) == Set(vips))
            _ = try replica("b")
            let probes = try vips.enumerated().map { index, vip in
                try lab.startProbe(vip, seconds: 12, output: lab.stateRoot + "/probe-leader-\(index).out")
            }
            try await Task.sleep(for: .seconds(1))
            first.signal(SIGKILL)
            _ = await first.exitStatus()
            // The standby waits out the 4 s lease, restores the ledger and writes the same plan.
            #expect(
                await eventually(.seconds(20)) {
                    let log = (try? String(contentsOfFile: lab.stateRoot + "/controller-b.log", encoding: .utf8)) ?? ""
                    return log.contains("became leader")
                })
            for (index, probe) in probes.enumerated() {
                #expect(await probe.exitStatus() == 0)
                let parts = try String(contentsOfFile: lab.stateRoot + "/probe-leader-\(index).out", encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
                print("leader killed: \(vips[index]) probe ok/fail/answers \(parts)")
                #expect(parts.count == 3 && parts[1] == "0" && parts[2] == holders[index], "\(vips[index]): \(parts)")
            }
            #expect([try await lab.ingress("web"), try await lab.ingress("api")] == addresses, "every address kept")
            let after = try await lab.admin.get(ConfigMap.self, namespace: lab.namespace, name: "vip-configmap")
                .data[VRRPPlan.dataKey].map { try VRRPPlan(json: $0) }
            #expect(after?.groupsByAddress == plan?.groupsByAddress, "every VIP in the group it was in")
            #expect(try vips.map { try lab.holders($0) } == holders.map { [$0] })
        })
        await lab.tearDown()
        try outcome.get()
    }

    /// Node maintenance as the runbook says: the exclusion label set at runtime on the node holding a VIP moves
    /// the VIP to another node first, with a client connecting every 10 ms throughout: no failed connection.
    @Test func theExclusionLabelHandsAVIPOverWithoutAFailedConnection() async throws {
        let lab = try await AgentLab()
        let outcome = await Result(catching: {
            try lab.startController()
            for node in lab.nodes { try lab.startAgent(node) }
            try lab.startEchoServers()
            try await lab.loadBalancer("web")
            let vip = "203.0.113.65"
            let holder = try await lab.settledHolder(of: vip)
            let other = try #require(lab.nodes.first { $0 != holder })
            let output = lab.stateRoot + "/probe-exclusion.out"
            let probe = try lab.startProbe(vip, seconds: 8, output: output)
            try await Task.sleep(for: .seconds(2))
            _ = try await lab.admin.patch(
                Node.self, name: lab.nodeName(holder),
                .merge(["metadata": ["labels": [ControllerConfiguration.excludeLabel: "true"]]]))
            #expect(try await eventually(.seconds(10)) { try lab.holders(vip) == [other] }, "moved to \(other)")
            #expect(await probe.exitStatus() == 0)
            let parts = try String(contentsOfFile: output, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
            print("exclusion label on \(holder): probe ok/fail/answers \(parts)")
            #expect(parts.count == 3 && parts[1] == "0", "failed connections during the hand-over: \(parts)")
            #expect(
                parts.count == 3
                    && parts[2].split(separator: ",").map(String.init).sorted() == [holder, other].sorted())
        })
        await lab.tearDown()
        try outcome.get()
    }

    /// `/readyz` says ready only once keepalived has reported its state in every instance (what a rolling update
    /// of the DaemonSet waits for before it stops the next node), and not while a killed keepalived restarts.
    @Test func readyOnlyOnceKeepalivedTookItsPlaceInEveryInstance() async throws {
        let lab = try await AgentLab()
        let outcome = await Result(catching: {
            try lab.startController()
            try await lab.loadBalancer("web")
            let health = LocalHTTP.freePort()
            try lab.startAgent("n1", healthPort: health)
            func ready() -> Bool { LocalHTTP.get(port: health, path: "/readyz")?.status == 200 }
            func reported() -> Bool {
                let log = (try? String(contentsOfFile: lab.stateDirectory("n1") + "/keepalived.log", encoding: .utf8))
                return log?.contains("Entering BACKUP STATE") == true || log?.contains("Entering MASTER STATE") == true
            }
            #expect(await eventually(.seconds(30)) { ready() })
            #expect(reported(), "ready only after keepalived entered a state")
            let pid = try #require(lab.keepalivedPid("n1"))
            kill(-pid, SIGKILL)
            #expect(await eventually(.seconds(5)) { !ready() }, "not ready while keepalived is gone")
            #expect(await eventually(.seconds(30)) { ready() }, "ready again once the new keepalived reported")
        })
        await lab.tearDown()
        try outcome.get()
    }

    /// Two nodes that cannot hear each other's adverts both become MASTER: the controller says
    /// so (a Warning on the Service naming the VIP and both nodes) and, once they hear each other
    /// again, exactly one node keeps the VIP.
    @Test func aSplitBrainIsSeenAndSaid() async throws {
        let lab = try await AgentLab()
        let outcome = await Result(catching: {
            try lab.startController()
            for node in lab.nodes { try lab.startAgent(node) }
            try lab.startEchoServers()
            try await lab.loadBalancer("web")
            let vip = "203.0.113.65"
            #expect(try await eventually { try lab.holders(vip).count == 1 })
            // The agents advertise by unicast to each other's node address: a permanent neighbour
            // entry with a MAC nobody has sends the adverts nowhere (and nothing the client sends).
            let peers = ["n1": "192.0.2.12", "n2": "192.0.2.11"]
            // Only unicast adverts are cut this way: both configurations must already name the peer.
            func configuration(_ node: String) -> String {
                (try? String(contentsOfFile: lab.stateDirectory(node) + "/keepalived.conf", encoding: .utf8)) ?? ""
            }
            #expect(
                await eventually(.seconds(10)) { lab.nodes.allSatisfy { configuration($0).contains(peers[$0]!) } },
                "both agents render the other as unicast peer")
            for node in lab.nodes {
                try mustRun([
                    "ip", "-n", lab.netns(node), "neigh", "replace", peers[node]!, "lladdr", "02:00:00:00:00:01",
                    "dev", "eth0", "nud", "permanent",
                ])
            }
            #expect(
                try await eventually(.seconds(10)) { try lab.holders(vip).count == 2 },
                "both nodes became MASTER; n1:\n\(configuration("n1"))\nn2:\n\(configuration("n2"))")
            #expect(
                try await eventually(.seconds(20)) {
                    try await lab.admin.list(Event.self, namespace: lab.namespace).items.contains {
                        $0.reason == "SplitBrain" && $0.involvedObject.name == "web" && $0.type == "Warning"
                            && $0.message?.contains(vip) == true && $0.message?.contains(lab.nodeName("n1")) == true
                            && $0.message?.contains(lab.nodeName("n2")) == true
                    }
                }, "a SplitBrain warning names the VIP and both nodes")
            for node in lab.nodes {
                try mustRun(["ip", "-n", lab.netns(node), "neigh", "del", peers[node]!, "dev", "eth0"])
            }
            #expect(
                try await eventually(.seconds(10)) { try lab.holders(vip).count == 1 },
                "one node yields once they hear each other")
            // The winner re-announced when it heard the loser's lower-priority advert, so the client's
            // ARP entry points at it now (keepalived's defaults left it on the loser for up to 5 s).
            let winner = try #require(try lab.holders(vip).first)
            let output = lab.stateRoot + "/probe-split.out"
            let probe = try lab.startProbe(vip, seconds: 2, output: output)
            #expect(await probe.exitStatus() == 0)
            let parts = try String(contentsOfFile: output, encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines
            )
            .split(separator: " ").map(String.init)
            #expect(
                parts.count == 3 && parts[1] == "0" && parts[2] == winner,
                "after the split brain: \(parts), holder \(winner)")
        })
        await lab.tearDown()
        try outcome.get()
    }
}

/// The supervisor against real keepalived in a namespace of the test's own.
@Suite("keepalived supervisor", .integration, .tags(.integration))
struct KeepalivedSupervisorTests {
    /// `stop` returns once keepalived has exited. The exit watcher had already reaped the child,
    /// so the supervisor's poll never saw the exit and every stop (agent SIGTERM, plan-driven)
    /// waited out its whole grace period.
    @Test func stopReturnsAsSoonAsKeepalivedHasExited() async throws {
        try await Self.withSupervisor(address: "192.0.2.11/24") { lab, namespace, supervisor in
            try Self.oneInstance(vrid: 77, vip: "203.0.113.70")
                .write(toFile: supervisor.paths.config, atomically: true, encoding: .utf8)
            _ = try await supervisor.start()
            #expect(try await eventually(.seconds(10)) { try lab.addresses(in: namespace).contains("203.0.113.70") })
            let pid = try #require(await supervisor.pid)
            let clock = ContinuousClock()
            let elapsed = await clock.measure { await supervisor.stop(grace: .seconds(60)) }
            #expect(elapsed < .seconds(30), "stop took \(elapsed) with a 60 s grace")
            #expect(kill(pid, 0) != 0, "keepalived is gone")
            #expect(
                try !lab.addresses(in: namespace).contains("203.0.113.70"), "keepalived removed its VIP on SIGTERM")
            #expect(try String(contentsOfFile: supervisor.paths.log, encoding: .utf8).contains("Stopped"))
        }
    }

    /// A keepalived that read a configuration without instances runs no VRRP process and says so: the reload goes
    /// out (the agent used to wait for a VRRP process that never came, and the node never took its VIPs) and the
    /// VRRP process it starts confirms it.
    @Test func aKeepalivedStartedWithoutInstancesIsReloadedIntoThem() async throws {
        try await Self.withSupervisor(address: "192.0.2.13/24") { lab, namespace, supervisor in
            try "global_defs {\n    router_id n1\n}\n".write(
                toFile: supervisor.paths.config, atomically: true, encoding: .utf8)
            _ = try await supervisor.start()
            let outcome = await Result {
                #expect(await eventually(.seconds(20)) { await supervisor.hasStarted })
                try Self.oneInstance(vrid: 78, vip: "203.0.113.71")
                    .write(toFile: supervisor.paths.config, atomically: true, encoding: .utf8)
                let offset = supervisor.logOffset()
                #expect(await supervisor.reload() == .sent)
                #expect(await eventually(.seconds(20)) { supervisor.reloadCompleted(after: offset) })
                #expect(
                    try await eventually(.seconds(20)) { try lab.addresses(in: namespace).contains("203.0.113.71") })
            }
            await supervisor.stop(grace: .seconds(5))
            try outcome.get()
        }
    }

    /// A supervisor of real keepalived in namespace n1 (`address` on its eth0) with a state directory of its own;
    /// the namespace and the directory go after `body`.
    private static func withSupervisor(
        address: String, _ body: (NetworkLab, String, KeepalivedSupervisor) async throws -> Void
    ) async throws {
        let lab = try NetworkLab()
        defer { lab.tearDown() }
        let namespace = try lab.node("n1", switch: try lab.makeSwitch(), cidr: address)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("klb-supervisor-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let supervisor = KeepalivedSupervisor(
            paths: .init(executable: "/usr/sbin/keepalived", stateDirectory: directory), networkNamespace: namespace,
            logger: Logger(label: "test"))
        try await body(lab, namespace, supervisor)
    }

    /// keepalived.conf with one instance alone on eth0 (it becomes master after three missed adverts).
    private static func oneInstance(vrid: Int, vip: String) -> String {
        """
        global_defs {
            router_id n1
            vrrp_version 3
        }
        vrrp_instance t {
            state BACKUP
            interface eth0
            virtual_router_id \(vrid)
            priority 200
            advert_int 0.2
            virtual_ipaddress {
                \(vip)/32 dev eth0
            }
        }
        """
    }

    /// keepalived itself accepts every option we render (its own configuration check, run in a
    /// namespace that has the interface).
    @Test func keepalivedAcceptsTheRenderedConfiguration() async throws {
        let lab = try NetworkLab()
        defer { lab.tearDown() }
        let sw = try lab.makeSwitch()
        let namespace = try lab.node("n1", switch: sw, cidr: "192.0.2.12/24", ipv6: "2001:db8::12/64")
        let plan = try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "50-53"), groups: 4)
            .plan(
                addresses: ["203.0.113.65", "203.0.113.66", "2001:db8:1::65"].map { try IPAddress($0) },
                nodes: ["n1", "n2", "n3"])
        let node = try NodeSettings(
            nodeName: "n1", interface: "eth0", sourceAddresses: [IPAddress("192.0.2.12"), IPAddress("2001:db8::12")],
            unicastPeers: [IPAddress("192.0.2.11"), IPAddress("2001:db8::11")], advertIntervalMilliseconds: 200,
            notifyFIFO: "/tmp/klb-render-test.fifo")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("render-\(UUID()).conf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try KeepalivedConfig.render(plan: plan, node: node).write(toFile: path, atomically: true, encoding: .utf8)
        let (status, output) = try runCommand(
            [
                "ip", "netns", "exec", namespace, "/usr/sbin/keepalived", "--config-test", "--use-file", path,
                "--log-console",
            ])
        #expect(status == 0, "\(output)")
        for complaint in ["Unknown keyword", "nvalid", "ignoring", "WARNING"] {
            #expect(!output.contains(complaint), "\(output)")
        }
    }
}
