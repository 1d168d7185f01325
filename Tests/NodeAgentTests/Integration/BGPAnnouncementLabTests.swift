import Foundation
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
import LoadBalancerAPI
import NodeAgent
import TestLab
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Pools announced by BGP, end to end on the agent's side: the agents (the shipped binary, under deploy/'s RBAC,
/// against a real kube-apiserver) read BGPPeers and the plan's routes and run BIRD; a BIRD top-of-rack in the
/// client's namespace installs what it learns in the kernel (ECMP), and the client connects through it.
extension AgentFailoverTests {
    @Test func bgpPoolsAreAnnouncedByEveryAllowedNodeAndWithdrawnWhenAnAgentStops() async throws {
        let lab = try await AgentLab(nodeCount: 2, ipv6: true)
        let admin = lab.admin
        let peerNames = ["v4", "v6", "no-secret"].map { "\(lab.namespace)-\($0)" }
        let outcome = await Result(catching: {
            try lab.installBGPPeerResource()
            let router = try lab.startBGPRouter()
            for (node, index) in zip(lab.nodes, 11...) {
                // kube-proxy's part, reduced: packets for the routed VIPs go to the node's own listener.
                let rules = lab.stateRoot + "/\(node)-dnat.nft"
                try FileManager.default.createDirectory(atPath: lab.stateRoot, withIntermediateDirectories: true)
                try """
                table inet lab-lb {
                    chain pre { type nat hook prerouting priority -100;
                        ip daddr 198.51.100.0/24 dnat ip to 192.0.2.\(index)
                        ip6 daddr 2001:db8:2::/64 dnat ip6 to 2001:db8::\(index)
                    }
                }
                """.write(toFile: rules, atomically: true, encoding: .utf8)
                try mustRun(["ip", "netns", "exec", lab.netns(node), "nft", "-f", rules])
            }
            try lab.startEchoServers()
            for node in lab.nodes {
                // A listener of the node's own (where a kubelet listens): no VIP may reach it.
                lab.helpers.append(
                    try ChildProcess.spawn(
                        AgentLab.labNet(in: lab.netns(node), ["serve", "10250", "kubelet"]), outputPath: "/dev/null"))
                try lab.startAgent(node)
            }

            let all = try IPAddress("198.51.100.10")
            let local = try IPAddress("198.51.100.11")
            let all6 = try IPAddress("2001:db8:2::10")
            let held = try IPAddress("203.0.113.70")
            let names = lab.nodes.map { lab.nodeName($0) }.sorted()
            func plan(localOn node: Int) throws -> VRRPPlan {
                try VRRPPlan(
                    cluster: "lab", nodes: names,
                    instances: [.init(vrid: 10, family: .ipv4, preferred: 0, addresses: [held])],
                    routes: [
                        .init(address: all, ports: [try VIPPort(parsing: "TCP/8080")]),
                        .init(address: local, allowedNodes: [node]), .init(address: all6),
                    ])
            }
            _ = try await admin.create(
                ConfigMap(
                    name: "vip-configmap", namespace: lab.namespace,
                    data: [VRRPPlan.dataKey: try plan(localOn: 1).json()]))
            try await Self.createPeers(lab, names: peerNames)

            // Both nodes announce the shared VIPs (two next hops), only n2 the Local one.
            #expect(
                try await eventually(.seconds(30)) { try lab.bgpNextHops("\(all)") == ["192.0.2.11", "192.0.2.12"] })
            #expect(try await eventually(.seconds(5)) { try lab.bgpNextHops("\(local)") == ["192.0.2.12"] })
            #expect(
                try await eventually(.seconds(10)) {
                    try lab.bgpNextHops("\(all6)") == ["2001:db8::11", "2001:db8::12"]
                })
            #expect(try await eventually(.seconds(10)) { try lab.holders("203.0.113.70") == ["n1"] }, "VRRP as before")

            // New connections spread over both nodes (an L4 multipath hash at the router), none failing.
            for address in [all, all6] {
                let spread = try mustRun(AgentLab.labNet(in: lab.client, ["spread", "\(address)", "8080", "200"]))
                print(
                    "bgp lab: 200 connections to \(address): \(spread.trimmingCharacters(in: .whitespacesAndNewlines))")
                #expect(spread.contains("n1=") && spread.contains("n2=") && !spread.contains("failed"), "\(spread)")
            }
            #expect(try mustRun(AgentLab.labNet(in: lab.client, ["ask", "\(local)", "8080"])).hasPrefix("n2"))
            // Its Service's port only: the nodes drop the rest (kube-proxy would not take it; the node would route it).
            #expect(
                try mustRun(AgentLab.labNet(in: lab.client, ["reachable", "\(all)", "10250"])).hasPrefix("no"),
                "a routed VIP reached the node's own listener")
            #expect(
                try mustRun(AgentLab.labNet(in: lab.client, ["reachable", "\(local)", "10250"])).hasPrefix("yes"),
                "without a port list (an older controller's plan) nothing is filtered: the check above can fail")

            // What each node publishes: the two sessions up, the peer without its Secret refused with the reason.
            for node in lab.nodes {
                var published: BGPSessionState?
                _ = try await eventually(.seconds(10)) {
                    let object = try await admin.get(Node.self, name: lab.nodeName(node))
                    published = BGPSessionState(annotation: object.metadata.annotations[BGPSessionState.annotation])
                    return published?.peers[peerNames[0]]?.session == "Established"
                        && published?.peers[peerNames[1]]?.session == "Established"
                }
                let state = try #require(published)
                #expect(state.peers[peerNames[0]]?.session == "Established", "\(state)")
                #expect(state.peers[peerNames[1]]?.session == "Established", "\(state)")
                #expect(state.peers[peerNames[2]]?.session == "Invalid")
                #expect(state.peers[peerNames[2]]?.message?.contains("cannot read Secret") == true, "\(state)")
                #expect(state.routes == (node == "n2" ? 3 : 2))
                #expect(lab.metrics(node).contains("keepalived_lb_agent_bgp_session_up{peer=\"\(peerNames[0])\"} 1"))
            }

            // The Local VIP's endpoint moves: the route follows; the others keep both next hops throughout.
            var map = try await admin.get(ConfigMap.self, namespace: lab.namespace, name: "vip-configmap")
            map.data[VRRPPlan.dataKey] = try plan(localOn: 0).json()
            _ = try await admin.update(map)
            #expect(try await eventually(.seconds(10)) { try lab.bgpNextHops("\(local)") == ["192.0.2.11"] })
            #expect(try lab.bgpNextHops("\(all)") == ["192.0.2.11", "192.0.2.12"], "a reload keeps the sessions")

            // The ConfigMap deleted (by hand, or lost): the last plan's routes stay announced, as VRRP VIPs stay held.
            try await admin.delete(ConfigMap.self, namespace: lab.namespace, name: "vip-configmap")
            try await Task.sleep(for: .seconds(3))
            #expect(try lab.bgpNextHops("\(all)") == ["192.0.2.11", "192.0.2.12"], "withdrawn with the ConfigMap")
            #expect(try lab.bgpNextHops("\(local)") == ["192.0.2.11"])

            // n1's agent stops: its sessions close before it exits, so the router drops it as a next hop at once.
            let stopped = ContinuousClock.now
            lab.agents["n1"]?.signal(SIGTERM)
            #expect(
                try await eventually(.seconds(10), poll: .milliseconds(10)) {
                    try lab.bgpNextHops("\(all)") == ["192.0.2.12"]
                })
            print("bgp lab: n1's routes withdrawn \(ContinuousClock.now - stopped) after SIGTERM to its agent")
            #expect(try await eventually(.seconds(10)) { try lab.holders("203.0.113.70") == ["n2"] }, "VRRP as before")
            let after = try mustRun(AgentLab.labNet(in: lab.client, ["spread", "\(all)", "8080", "50"]))
            #expect(after.trimmingCharacters(in: .whitespacesAndNewlines) == "n2=50", "\(after)")
            await router.stop(grace: .seconds(2))
        })
        for name in peerNames { try? await admin.delete(BGPPeer.self, name: name) }
        await lab.tearDown()
        try outcome.get()
    }

    /// Bad BGPPeers are refused on the node with the reason, never written into bird.conf, and the good peer beside
    /// them stays up; a password from a Secret (read under the bgp component's Role) keys the session (TCP MD5).
    @Test func badPeersAreRefusedWithTheReasonAndAPasswordKeysTheSession() async throws {
        let lab = try await AgentLab(nodeCount: 1)
        let admin = lab.admin
        let prefix = lab.namespace
        let names = ["keyed", "quote", "newline", "no-key", "garbage", "multihop"].map { "\(prefix)-\($0)" }
        let outcome = await Result(catching: {
            try lab.installBGPPeerResource()
            // The bgp component's Role, in the lab's namespace (where this lab's agents look for Secrets).
            let kubectl = ["kubectl", "--kubeconfig", lab.cluster.adminKubeconfig, "-n", lab.namespace]
            try mustRun(kubectl + ["create", "role", "bgp-passwords", "--verb=get", "--resource=secrets"])
            try mustRun(
                kubectl + ["create", "rolebinding", "bgp-passwords", "--role=bgp-passwords", "--user=klb-agent"])
            for (name, value) in [("good", "s3cret key!"), ("quote", #"a"b"#), ("newline", "a\nb")] {
                _ = try await admin.create(
                    Secret(name: "bgp-\(name)", namespace: lab.namespace, stringData: ["password": value]))
            }
            _ = try lab.startBGPRouter(password: "s3cret key!")
            try lab.startAgent("n1")
            let plan = try VRRPPlan(
                cluster: "lab", nodes: [lab.nodeName("n1")], instances: [],
                routes: [.init(address: try IPAddress("198.51.100.10"))])
            _ = try await admin.create(
                ConfigMap(name: "vip-configmap", namespace: lab.namespace, data: [VRRPPlan.dataKey: plan.json()]))
            var selector = LabelSelector()
            selector.matchLabels = ["keepalived-lb.io/test": lab.namespace]
            for name in names {
                var peer = BGPPeer(json: [:])
                peer.metadata = ObjectMeta(name: name)
                peer.spec.peerAddress = "192.0.2.100"
                peer.spec.peerASN = 64512
                peer.spec.localASN = 64513
                peer.spec.nodeSelector = selector
                switch name.dropFirst(prefix.count + 1) {
                case "keyed":
                    peer.spec.passwordSecret = ("bgp-good", "password")
                    peer.spec.bfd = ["receiveIntervalMilliseconds": 100, "transmitIntervalMilliseconds": 100]
                case "quote": peer.spec.passwordSecret = ("bgp-quote", "password")
                case "newline": peer.spec.passwordSecret = ("bgp-newline", "password")
                case "no-key": peer.spec.passwordSecret = ("bgp-good", "other")
                case "garbage": peer.spec.sourceAddress = "192.0.2.11\"; }"
                default:
                    // Past the schema, refused by the agent: multihop is for eBGP, and this peer is iBGP.
                    peer.spec.localASN = 64512
                    peer.spec.ebgpMultihop = 2
                }
                _ = try await admin.create(peer)
            }
            // The API server refuses what its schema can judge: an AS number out of range never gets stored.
            var outOfRange = BGPPeer(json: [:])
            outOfRange.metadata = ObjectMeta(name: "\(prefix)-asn")
            outOfRange.spec.peerAddress = "192.0.2.100"
            outOfRange.spec.peerASN = 4_294_967_296
            outOfRange.spec.localASN = 64513
            await #expect(throws: KubeError.self) { _ = try await admin.create(outOfRange) }

            #expect(
                try await eventually(.seconds(30)) {
                    try lab.bgpNextHops("198.51.100.10") == ["192.0.2.11"]
                })
            var published: BGPSessionState?
            _ = try await eventually(.seconds(10)) {
                let object = try await admin.get(Node.self, name: lab.nodeName("n1"))
                published = BGPSessionState(annotation: object.metadata.annotations[BGPSessionState.annotation])
                return published?.peers[names[0]]?.session == "Established" && published?.peers.count == names.count
            }
            let state = try #require(published)
            #expect(state.peers[names[0]]?.session == "Established", "the keyed session: \(state)")
            for (name, reason) in zip(
                names.dropFirst(),
                [
                    "a double quote", "a line break", "has no such key", "is not an IP address",
                    "ebgpMultihop is for eBGP",
                ])
            {
                #expect(state.peers[name]?.session == "Invalid", "\(name): \(state)")
                #expect(state.peers[name]?.message?.contains(reason) == true, "\(name): \(state)")
            }
            let config = try String(contentsOfFile: lab.stateDirectory("n1") + "/bird/bird.conf", encoding: .utf8)
            #expect(!config.contains(#"a"b"#) && !config.contains("192.0.2.11\""), "nothing refused was written")
            #expect(config.components(separatedBy: "protocol bgp").count == 2, "one session: the keyed one")
        })
        for name in names { try? await admin.delete(BGPPeer.self, name: name) }
        await lab.tearDown()
        try outcome.get()
    }

    /// What an operator sees when a session goes wrong: the real controller gathers both agents' states into the
    /// BGPPeer's status and posts Events for a flap at the router, a wrong AS number, a wrong password and a peer
    /// that does not exist, each put right again; a VRRP VIP beside answers every probe throughout.
    @Test func brokenSessionsShowInThePeersStatusEventsAndMetrics() async throws {
        let lab = try await AgentLab(nodeCount: 2)
        let admin = lab.admin
        let good = "\(lab.namespace)-good"
        let nowhere = "\(lab.namespace)-nowhere"
        let outcome = await Result(catching: {
            try lab.installBGPPeerResource()
            let kubectl = ["kubectl", "--kubeconfig", lab.cluster.adminKubeconfig, "-n", lab.namespace]
            try mustRun(kubectl + ["create", "role", "bgp-passwords", "--verb=get", "--resource=secrets"])
            try mustRun(
                kubectl + ["create", "rolebinding", "bgp-passwords", "--role=bgp-passwords", "--user=klb-agent"])
            _ = try await admin.create(
                Secret(name: "bgp-wrong", namespace: lab.namespace, stringData: ["password": "not the router's"]))
            _ = try lab.startBGPRouter()
            try lab.startController()
            for node in lab.nodes { try lab.startAgent(node) }
            try lab.startEchoServers()
            try await lab.loadBalancer("web")
            #expect(try await eventually(.seconds(30)) { try await lab.ingress("web") == "203.0.113.65" })
            #expect(try await eventually(.seconds(20)) { try lab.holders("203.0.113.65").count == 1 })
            let probeOutput = lab.stateRoot + "/probe-vrrp.out"
            let probe = try lab.startProbe("203.0.113.65", seconds: 600, output: probeOutput)

            try await Self.createPeers(lab, names: [good])
            let names = lab.nodes.map { lab.nodeName($0) }.sorted()
            func status(_ peer: String) async throws -> BGPPeer.Status {
                try await admin.get(BGPPeer.self, name: peer).status
            }
            func sessions(_ peer: String) async throws -> [String: String] {
                Dictionary(
                    try await status(peer).nodes.map { ($0.name ?? "", $0.session ?? "") },
                    uniquingKeysWith: { first, _ in first })
            }
            func allEstablished() async throws -> Bool {
                let status = try await status(good)
                return status.establishedNodes == 2 && status.conditions.first?.status == .true
            }
            func events(_ peer: String, _ reason: String) async throws -> [Event] {
                try await admin.list(Event.self, namespace: "default").items.filter {
                    $0.involvedObject.kind == "BGPPeer" && $0.involvedObject.name == peer && $0.reason == reason
                }
            }
            func eventNodes(_ peer: String, _ reason: String, after count: Int = 0) async throws -> Set<String> {
                Set(
                    try await events(peer, reason).filter { ($0.count ?? 1) > count }.compactMap { event in
                        names.first { event.message?.contains("node \($0):") == true }
                    })
            }
            // The controller writes the status meanwhile: read, change, write.
            func change(_ edit: (inout BGPPeer.Spec) -> Void) async throws {
                var peer = try await admin.get(BGPPeer.self, name: good)
                edit(&peer.spec)
                _ = try await admin.update(peer)
            }
            var snapshot = ""
            func waitFor(_ what: String, _ check: @escaping () async throws -> Bool) async throws {
                let met = try await eventually(.seconds(30)) { try await check() }
                snapshot = (try? await status(good).json.description) ?? ""
                #expect(met, "\(what): \(snapshot)")
            }

            // 1. Up on both nodes: the status says so, with a Normal Event per node.
            try await waitFor("both nodes established") { try await allEstablished() }
            try await waitFor("an Established Event per node") {
                try await eventNodes(good, "SessionEstablished") == Set(names)
            }

            // 2. The router drops n1's session and takes it back: a Warning for n1 only, then established again.
            let routerControl = ["birdc", "-s", lab.stateRoot + "/router/bird.ctl"]
            try mustRun(["ip", "netns", "exec", lab.client] + routerControl + ["disable", "node0"])
            try await waitFor("n1 down, n2 up") {
                let now = try await sessions(good)
                let reason = try await status(good).conditions.first?.reason
                return now[names[0]] != BGPSessionState.Peer.established
                    && now[names[1]] == BGPSessionState.Peer.established && reason == "NotEstablished"
            }
            try await waitFor("a SessionDown Warning for n1") {
                try await eventNodes(good, "SessionDown") == [names[0]]
            }
            #expect(lab.metrics("n1").contains("keepalived_lb_agent_bgp_session_up{peer=\"\(good)\"} 0"))
            try mustRun(["ip", "netns", "exec", lab.client] + routerControl + ["enable", "node0"])
            try await waitFor("n1 back after the flap") { try await allEstablished() }

            // 3. A wrong AS number: both sessions refused with BIRD's reason; put right, both back.
            try await change { $0.peerASN = 64999 }
            try await waitFor("both down for the wrong AS") {
                let status = try await status(good)
                return status.establishedNodes == 0 && status.conditions.first?.status == .false
                    && status.nodes.allSatisfy { $0.message == "BGP Error: Bad peer AS" }
            }
            try await waitFor("SessionDown for both nodes") { try await eventNodes(good, "SessionDown").count == 2 }
            print("bgp lab: wrong ASN: \(snapshot)")
            try await change { $0.peerASN = 64512 }
            try await waitFor("both back with the right AS") { try await allEstablished() }

            // 4. A password the router does not share: TCP MD5 drops every segment; the sessions go down.
            let downs = try await events(good, "SessionDown").map { $0.count ?? 1 }.max() ?? 1
            try await change { $0.passwordSecret = ("bgp-wrong", "password") }
            try await waitFor("both down for the wrong password") {
                let status = try await status(good)
                return status.establishedNodes == 0 && status.conditions.first?.status == .false
            }
            try await waitFor("SessionDown again for both nodes") {
                try await eventNodes(good, "SessionDown", after: downs - 1).count == 2
            }
            #expect(lab.metrics("n2").contains("keepalived_lb_agent_bgp_session_up{peer=\"\(good)\"} 0"))
            print("bgp lab: wrong password: \(snapshot)")
            try await change { $0.passwordSecret = nil }
            try await waitFor("both back without the password") { try await allEstablished() }

            // 5. A peer no one answers at: never established, a Warning with the socket's error once it has one.
            var unreachable = BGPPeer(json: [:])
            unreachable.metadata = ObjectMeta(name: nowhere)
            unreachable.spec.peerAddress = "192.0.2.250"
            unreachable.spec.peerASN = 64512
            unreachable.spec.localASN = 64513
            var selector = LabelSelector()
            selector.matchLabels = ["keepalived-lb.io/test": lab.namespace]
            unreachable.spec.nodeSelector = selector
            _ = try await admin.create(unreachable)
            let unanswered = try await eventually(.seconds(40)) {
                let status = try await status(nowhere)
                let warned = try await eventNodes(nowhere, "SessionNotEstablished")
                return status.nodes.count == 2 && status.establishedNodes == 0
                    && status.conditions.first?.reason == "NotEstablished" && warned.count == 2
            }
            let unreachableStatus = (try? await status(nowhere).json.description) ?? ""
            print("bgp lab: unreachable peer: \(unreachableStatus)")
            #expect(unanswered, "the unreachable peer: \(unreachableStatus)")
            #expect(try await allEstablished(), "the good peer is undisturbed by the bad one")

            probe.signal(SIGTERM)
            #expect(await probe.exitStatus() == 0)
            let parts = try String(contentsOfFile: probeOutput, encoding: .utf8).split(separator: " ")
            let (ok, failed) = (Int(parts.first ?? "") ?? 0, Int(parts.dropFirst().first ?? "") ?? -1)
            print("bgp lab: VRRP VIP beside: \(ok) answered, \(failed) failed")
            #expect(ok > 500 && failed == 0, "the VRRP VIP failed \(failed) of \(ok + failed) probes")
        })
        for name in [good, nowhere] { try? await admin.delete(BGPPeer.self, name: name) }
        await lab.tearDown()
        try outcome.get()
    }

    /// An agent killed outright (SIGKILL, outside a container) leaves its BIRD running, still announcing: the node
    /// keeps serving meanwhile, and the next agent stops that BIRD before starting its own, so one BIRD holds the
    /// node's sessions again.
    @Test func anAgentKilledOutrightLeavesNoSecondBIRD() async throws {
        let lab = try await AgentLab(nodeCount: 1)
        let admin = lab.admin
        let peer = "\(lab.namespace)-tor"
        let outcome = await Result(catching: {
            try lab.installBGPPeerResource()
            _ = try lab.startBGPRouter()
            try lab.startAgent("n1")
            let plan = try VRRPPlan(
                cluster: "lab", nodes: [lab.nodeName("n1")], instances: [],
                routes: [.init(address: try IPAddress("198.51.100.10"))])
            _ = try await admin.create(
                ConfigMap(name: "vip-configmap", namespace: lab.namespace, data: [VRRPPlan.dataKey: plan.json()]))
            try await Self.createPeers(lab, names: [peer])
            #expect(try await eventually(.seconds(30)) { try lab.bgpNextHops("198.51.100.10") == ["192.0.2.11"] })
            let config = lab.stateDirectory("n1") + "/bird/bird.conf"
            #expect(Self.birds(using: config).count == 1)

            lab.agents["n1"]?.signal(SIGKILL)
            _ = await lab.agents["n1"]?.exitStatus()
            try await Task.sleep(for: .seconds(1))
            let orphans = Self.birds(using: config)
            #expect(orphans.count == 1, "the killed agent's BIRD runs on")
            #expect(try lab.bgpNextHops("198.51.100.10") == ["192.0.2.11"], "and still announces")

            try lab.startAgent("n1")
            #expect(
                try await eventually(.seconds(30)) {
                    let birds = Self.birds(using: config)
                    let hops = try lab.bgpNextHops("198.51.100.10")
                    return birds.count == 1 && birds != orphans && hops == ["192.0.2.11"]
                }, "one BIRD, the new agent's: \(Self.birds(using: config))")
            #expect(
                try await eventually(.seconds(20)) {
                    let node = try await admin.get(Node.self, name: lab.nodeName("n1"))
                    return BGPSessionState(annotation: node.metadata.annotations[BGPSessionState.annotation])?
                        .peers[peer]?.isEstablished == true
                }, "the new BIRD's session is up")
        })
        try? await admin.delete(BGPPeer.self, name: peer)
        await lab.tearDown()
        for pid in Self.birds(using: lab.stateDirectory("n1") + "/bird/bird.conf") { kill(pid, SIGKILL) }
        try outcome.get()
    }

    /// BIRD processes (not zombies) started with this configuration file.
    static func birds(using config: String) -> [pid_t] {
        processes("bird", zombies: false) { $0 == config }
    }

    /// Peers that select this lab's nodes only (other tests' agents share the server).
    static func createPeers(_ lab: AgentLab, names: [String]) async throws {
        for (name, address) in zip(names, ["192.0.2.100", "2001:db8::100", "192.0.2.100"]) {
            var peer = BGPPeer(json: [:])
            peer.metadata = ObjectMeta(name: name)
            peer.spec.peerAddress = address
            peer.spec.peerASN = 64512
            peer.spec.localASN = 64513
            peer.spec.holdTimeSeconds = 9
            peer.spec.bfd = ["receiveIntervalMilliseconds": 100, "transmitIntervalMilliseconds": 100, "multiplier": 3]
            var selector = LabelSelector()
            selector.matchLabels = ["keepalived-lb.io/test": lab.namespace]
            peer.spec.nodeSelector = selector
            if name.hasSuffix("no-secret") { peer.spec.passwordSecret = ("bgp-password", "password") }
            _ = try await lab.admin.create(peer)
        }
    }
}
