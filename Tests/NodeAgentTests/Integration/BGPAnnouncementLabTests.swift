import Foundation
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
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
            router.stop(grace: .seconds(2))
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
