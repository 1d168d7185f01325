import Foundation
import InMemoryAPI
import TestLab
import Testing

/// `--keep-connections` through a real kube-proxy: a Cluster Service's connection stays open while its VIP moves,
/// whether its pod is on the node the VIP leaves, the one it goes to or (three nodes) one it never reaches;
/// without the flag the same moves reset it.
extension AgentFailoverTests {
    /// Run by `scripts/test` in a `swift test` of its own (`KLB_TEST_HANDOVER=1`): in the shared run a later lab's
    /// Local Service answered through a masquerade after it (cause not yet found). One lab at a time: two at once
    /// starved keepalived on two cores, and a VIP stayed where its keepalived was killed.
    @Test(
        .enabled(if: ProcessInfo.processInfo.environment["KLB_TEST_HANDOVER"] == "1"), .serialized,
        arguments: [2, 3])
    func connectionsThroughAMovingVIPStayOpenWithKeepConnections(nodeCount: Int) async throws {
        let lab = try await AgentLab(nodeCount: nodeCount)
        let outcome = await Result(catching: {
            // One instance: both VIPs move together, so one move covers a pod on the old and on the new holder.
            try await startKeepingConnections(lab, groups: 1, vrids: "20-20")
            var services: [(vip: String, pod: String)] = []
            for node in lab.nodes {
                let pod = try lab.startPod("echo-\(node)", on: node, echo: true)
                try await lab.loadBalancer("via-\(node)", local: false)
                try await lab.setEndpoints("via-\(node)", [(pod, node, true)])
                services.append((try await lab.awaitIngress("via-\(node)"), node))
            }
            let vips = services.map(\.vip)
            for vip in vips {
                #expect(
                    try await eventually(.seconds(20)) { held(lab, vip) ? await answers(lab, vip) : false }, "\(vip)")
            }

            // Moved by a crash (keepalived killed on the holder), then on by a rollout (the new holder's agent
            // stopped): back to the first node, or with three to whichever the election picks.
            let first = try #require(try lab.holders(vips[0]).first)
            var second = ""
            let kept = try await holding(lab, vips, seconds: 12) {
                // Every other node learnt every flow, whichever node's conntrackd started last (FTFW tracked one
                // sequence for all senders of the group and dropped the lower-numbered ones' messages).
                for node in lab.nodes where node != first {
                    let cache = try await externalCache(lab, node)
                    for vip in vips {
                        #expect(
                            cache.split(separator: "\n").contains {
                                $0.contains("dst=\(vip) ") && $0.contains("mark=16384")
                            },
                            """
                            \(node) did not learn the flow to \(vip) that \(first) translates:
                            \(cache.prefix(2000))
                            \(lab.diagnosis(of: vips, lines: 30))
                            """)
                    }
                }
                let pid = try #require(lab.keepalivedPid(first))
                kill(-pid, SIGKILL)
                #expect(
                    try await eventually(.seconds(5)) {
                        let holders = try lab.holders(vips[0])
                        return holders.count == 1 && holders[0] != first
                    }, "\(lab.diagnosis(of: vips, lines: 30))")
                second = try #require(try lab.holders(vips[0]).first)
                // What the new holder learnt from the old one carries the masquerade mark: it keeps only such flows.
                let learnt = try await externalCache(lab, second)
                let marked = learnt.split(separator: "\n").contains {
                    $0.contains("dst=\(vips[0]) ") && $0.contains("mark=16384")
                }
                #expect(marked, "conntrackd's external cache on \(second):\n\(learnt.prefix(2000))")
                try await Task.sleep(for: .seconds(3))
                let agent = try #require(lab.agents[second])
                await agent.stop(grace: .seconds(10))
                lab.agents[second] = nil
                #expect(
                    try await eventually(.seconds(5)) {
                        let holders = try lab.holders(vips[0])
                        return holders.count == 1 && holders[0] != second
                    })
            }
            let third = try lab.holders(vips[0]).first ?? "none"
            print(
                "keep-connections, \(nodeCount) nodes, \(first) → \(second) → \(third): "
                    + "\(zip(services.map(\.pod), kept).map { "pod on \($0): \($1)" })")
            for (index, service) in services.enumerated() {
                #expect(
                    kept[index].hasPrefix("survived"),
                    "pod on \(service.pod), VIP \(service.vip): \(kept[index])\n\(lab.diagnosis(of: vips, lines: 20))")
            }
            // The last holder took the VIPs at least once more than at the start; no commit failed.
            let metrics = lab.metrics(third)
            let commits = metrics.split(separator: "\n").first {
                $0.hasPrefix("keepalived_lb_agent_connection_commits_total ")
            }
            #expect(
                (commits?.split(separator: " ").last.flatMap { Int($0) } ?? 0) >= (third == first ? 2 : 1),
                "\(commits ?? "no commits")")
            #expect(
                metrics.contains("keepalived_lb_agent_connection_commit_errors_total 0"),
                "\(lab.diagnosis(of: vips, lines: 40))")
            guard nodeCount == 2 else {
                for node in lab.nodes { await lab.agents[node]?.stop(grace: .seconds(10)) }
                #expect(conntrackds(under: lab.stateRoot).isEmpty, "\(conntrackds(under: lab.stateRoot))")
                return
            }

            // The same moves without the flag: every connection is reset (what the flag is for).
            try lab.startAgent(second)
            await lab.agents[first]?.stop(grace: .seconds(10))
            try lab.startAgent(first)
            for vip in vips {
                #expect(
                    try await eventually(.seconds(20)) { held(lab, vip) ? await answers(lab, vip) : false }, "\(vip)")
            }
            let holder = try #require(try lab.holders(vips[0]).first)
            let reset = try await holding(lab, vips, seconds: 6) {
                let pid = try #require(lab.keepalivedPid(holder))
                kill(-pid, SIGKILL)
                #expect(try await eventually(.seconds(5)) { try lab.holders(vips[0]).first != holder })
            }
            print("without: \(zip(services.map(\.pod), reset).map { "pod on \($0): \($1)" })")
            for (index, service) in services.enumerated() {
                #expect(!reset[index].hasPrefix("survived"), "without the flag, pod on \(service.pod): \(reset[index])")
            }

            // Each conntrackd goes with its agent, also those replaced while the VIP set changed at start-up (two
            // interleaved restarts once left one running, owned by nobody).
            for node in lab.nodes { await lab.agents[node]?.stop(grace: .seconds(10)) }
            #expect(conntrackds(under: lab.stateRoot).isEmpty, "\(conntrackds(under: lab.stateRoot))")
        })
        await lab.tearDown()
        try outcome.get()
    }
}

extension AgentFailoverTests {
    /// A node taking one VIP commits the entries of every VIP conntrackd learnt, also of one another node holds. Where
    /// the flow's pod runs on the committing node, its entry clashed with the node's own transit entry of the flow
    /// and got another port; when that VIP then moved here, the entry took the client's packets past the guard to
    /// the pod under that port, which reset them (3 of 8 long-lived connections in a cluster-test rollout). Two
    /// nodes, two instances: `other`'s holder re-takes `moving` while `kept`'s flow runs to a pod there, then `kept`
    /// moves there too.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["KLB_TEST_HANDOVER"] == "1"), .serialized)
    func aCommitForOneVIPLeavesTheEntriesOfAVIPHeldElsewhereOut() async throws {
        let lab = try await AgentLab(nodeCount: 2)
        let outcome = await Result(catching: {
            try await startKeepingConnections(lab, groups: 2, vrids: "20-21")
            let pods = try lab.nodes.map { try lab.startPod("echo-\($0)", on: $0, echo: true) }
            var vips: [String] = []
            for index in 0..<3 {
                try await lab.loadBalancer("svc-\(index)", local: false)
                try await lab.setEndpoints("svc-\(index)", zip(pods, lab.nodes).map { ($0, $1, true) })
                vips.append(try await lab.awaitIngress("svc-\(index)"))
            }
            for vip in vips {
                #expect(
                    try await eventually(.seconds(20)) { held(lab, vip) ? await answers(lab, vip) : false }, "\(vip)")
            }
            // Two VIPs held by different nodes (different instances, whose preferred nodes differ).
            let holders = try vips.map { try #require(try lab.holders($0).first) }
            let keptIndex = 0
            let movingIndex = try #require(holders.firstIndex { $0 != holders[keptIndex] }, "\(holders)")
            let (kept, moving) = (vips[keptIndex], vips[movingIndex])
            let (holder, other) = (holders[keptIndex], holders[movingIndex])
            // `kept`'s flows go to the pod on `other`: `other` has the transit entry of each.
            let otherPod = pods[try #require(lab.nodes.firstIndex(of: other))]
            try await lab.setEndpoints("svc-\(keptIndex)", [(otherPod, other, true)])
            #expect(try await eventually(.seconds(10)) { await answers(lab, kept) })

            var leftOut = ""
            let outcome = try await holding(lab, [kept], seconds: 14) {
                // `other` gives `moving` up (keepalived killed, restarted by its agent) and takes it back: a commit.
                let pid = try #require(lab.keepalivedPid(other))
                kill(-pid, SIGKILL)
                #expect(try await eventually(.seconds(5)) { try lab.holders(moving) == [holder] })
                #expect(try await eventually(.seconds(10)) { try lab.holders(moving) == [other] })
                try await Task.sleep(for: .seconds(2))
                leftOut = try await runCommandAsync([
                    "ip", "netns", "exec", lab.netns(other), "conntrack", "-L", "-p", "tcp", "--orig-dst", kept,
                    "--mark", "0x4000/0x4000",
                ]).output
                let agent = try #require(lab.agents[holder])
                await agent.stop(grace: .seconds(10))
                lab.agents[holder] = nil
                #expect(try await eventually(.seconds(5)) { try lab.holders(kept) == [other] })
            }
            print("held elsewhere, \(kept) \(holder) → \(other) after \(moving) came back to \(other): \(outcome)")
            #expect(
                !leftOut.contains("dst=\(kept) "),
                "\(other) kept committed entries of \(kept), which \(holder) held:\n\(leftOut.prefix(2000))")
            #expect(outcome.first?.hasPrefix("survived") == true, "\(outcome)\n\(lab.diagnosis(of: vips, lines: 30))")
            for node in lab.nodes { await lab.agents[node]?.stop(grace: .seconds(10)) }
        })
        await lab.tearDown()
        try outcome.get()
    }
}

/// kube-proxy on every node, the controller with `groups` instances and every agent with `--keep-connections`.
private func startKeepingConnections(_ lab: AgentLab, groups: Int, vrids: String) async throws {
    try await lab.startKubeProxies()
    // The VIPs in the nodes' own segment, as L2 pools usually are: a pod's answer to a VIP (the source its flows
    // get) goes to whichever node holds it.
    for node in lab.nodes {
        try await runCommandAsync(["ip", "-n", lab.netns(node), "route", "add", "203.0.113.64/26", "dev", "eth0"])
    }
    try lab.startController(groups: groups, vrids: vrids)
    for node in lab.nodes { try lab.startAgent(node, extra: ["--keep-connections"]) }
}

private func held(_ lab: AgentLab, _ vip: String) -> Bool { (try? lab.holders(vip).count) == 1 }

/// What `node`'s conntrackd learnt from the other nodes (`conntrackd -e`).
private func externalCache(_ lab: AgentLab, _ node: String) async throws -> String {
    try await runCommandAsync([
        "ip", "netns", "exec", lab.netns(node), "conntrackd", "-C", lab.stateDirectory(node) + "/conntrackd.conf", "-e",
    ]).output
}

/// A short echo exchange through the VIP (kube-proxy has the endpoint and the filter lets it through).
private func answers(_ lab: AgentLab, _ vip: String) async -> Bool {
    let result = try? await runCommandAsync(AgentLab.labNet(in: lab.client, ["hold", vip, "8080", "0.1"]))
    return result?.status == 0
}

/// One connection per VIP held open for `seconds` while `moves` runs (after a second); what each printed.
private func holding(
    _ lab: AgentLab, _ vips: [String], seconds: Double, _ moves: () async throws -> Void
) async throws -> [String] {
    let outputs = vips.map { lab.stateRoot + "/hold-\($0)-\(UUID().uuidString.prefix(8)).out" }
    let clients = try zip(vips, outputs).map { try lab.startHold($0, seconds: seconds, output: $1) }
    try await Task.sleep(for: .seconds(1))
    try await moves()
    var printed: [String] = []
    for (client, output) in zip(clients, outputs) {
        _ = await client.exitStatus()
        printed.append(
            ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").trimmingCharacters(
                in: .whitespacesAndNewlines))
    }
    return printed
}

/// The pids of conntrackd processes (zombies too) given a file under `directory`.
private func conntrackds(under directory: String) -> [pid_t] {
    processes("conntrackd") { $0.contains(directory) }
}
