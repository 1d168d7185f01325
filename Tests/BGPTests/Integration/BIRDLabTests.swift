import BGP
import Foundation
import IPAM
import InMemoryAPI
import TestLab
import TestTraits
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// bird.conf as rendered, run by real BIRD 2 in network namespaces: a top-of-rack router (multipath on) learns
/// every node's VIP routes and spreads over them; BFD withdraws a dead node's routes well before the hold time.
@Suite("BGP through BIRD in network namespaces", .serialized, .tags(.integration), .integration)
struct BIRDLabTests {
    @Test func birdAcceptsEveryRenderedConfiguration() throws {
        let directory = try temporaryDirectory("parse")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let variants: [[BGPPeerSpec]] = [
            [],
            [try peer("192.0.2.1")],
            [try peer("192.0.2.1", bfd: .standard, password: #"a\b $c 'd' {e} ;f# g"#)],
            [
                try BGPPeerSpec(
                    peerAddress: IPAddress("2001:db8::1"), peerASN: ASN(4_200_000_001), localASN: ASN(64512),
                    port: 1179,
                    holdTimeSeconds: 0, sourceAddress: IPAddress("2001:db8::11"), ebgpMultihop: 4),
                try BGPPeerSpec(peerAddress: IPAddress("192.0.2.1"), peerASN: ASN(64512), localASN: ASN(64512)),
            ],
        ]
        let routes = [
            BGPRoute(address: try IPAddress("203.0.113.10")),
            BGPRoute(
                address: try IPAddress("2001:db8:1::10"),
                communities: [try BGPCommunity(parsing: "64512:1"), try BGPCommunity(parsing: "65535:65281")],
                localPreference: 4_294_967_295),
        ]
        for (index, peers) in variants.enumerated() {
            let path = "\(directory)/bird-\(index).conf"
            try BIRDConfig.render(routerID: IPAddress("192.0.2.11"), peers: peers, routes: routes)
                .write(toFile: path, atomically: true, encoding: .utf8)
            let (status, output) = try runCommand(["bird", "-p", "-c", path])
            #expect(status == 0, "bird -p refused variant \(index): \(output)")
        }
    }

    @Test func aRouterSpreadsOverEveryNodeAndBFDWithdrawsADeadOne() async throws {
        let lab = try NetworkLab()
        defer { lab.tearDown() }
        let sw = try lab.makeSwitch()
        let router = try lab.node("tor", switch: sw, cidr: "192.0.2.1/24", ipv6: "2001:db8::1/64")
        let nodes = [
            try lab.node("n1", switch: sw, cidr: "192.0.2.11/24", ipv6: "2001:db8::11/64"),
            try lab.node("n2", switch: sw, cidr: "192.0.2.12/24", ipv6: "2001:db8::12/64"),
        ]
        let directory = try temporaryDirectory("lab")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var daemons: [BIRD] = []
        defer { for daemon in daemons { daemon.stop() } }

        daemons.append(try BIRD(namespace: router, directory: directory, name: "tor", config: Self.routerConfig))
        let fast = try BFDSettings(receive: 100, transmit: 100, multiplier: 3)
        let shared = [try IPAddress("203.0.113.10"), try IPAddress("2001:db8:1::10")]
        for (index, node) in nodes.enumerated() {
            let own = index == 0 ? [try IPAddress("203.0.113.20")] : []
            let config = BIRDConfig.render(
                routerID: try IPAddress("192.0.2.1\(index + 1)"),
                peers: [try peer("192.0.2.1", bfd: fast), try peer("2001:db8::1", bfd: fast)],
                routes: (shared + own).map { BGPRoute(address: $0) })
            daemons.append(try BIRD(namespace: node, directory: directory, name: "n\(index + 1)", config: config))
        }

        // ECMP: the shared VIPs through both nodes, n1's own through n1 alone, in both families.
        let spread = try await eventually(.seconds(30)) {
            try gateways(router, "203.0.113.10/32") == ["192.0.2.11", "192.0.2.12"]
                && gateways(router, "2001:db8:1::10/128") == ["2001:db8::11", "2001:db8::12"]
                && gateways(router, "203.0.113.20/32") == ["192.0.2.11"]
        }
        guard spread else {
            for daemon in daemons { print(daemon.diagnostics()) }
            print(try mustRun(["ip", "-n", router, "route", "show", "table", "all"]))
            Issue.record("the router did not get routes from both nodes within 30 s")
            return
        }
        let sessions = BIRDStatus.protocols(try daemons[1].control("show protocols"))
        #expect(sessions["peer_0"]?.isEstablished == true && sessions["peer_1"]?.isEstablished == true, "\(sessions)")
        let bfdUp = try await eventually(.seconds(10)) {
            let bfd = BIRDStatus.bfdSessions(try daemons[1].control("show bfd sessions"))
            let router4 = try IPAddress("192.0.2.1")
            let router6 = try IPAddress("2001:db8::1")
            return bfd[router4] == "Up" && bfd[router6] == "Up"
        }
        try #require(bfdUp, "BFD up on n1")

        // n1 is cut off (its cable pulled: no TCP reset, no BGP notification reaches the router): only BFD can tell
        // the router in time; the hold time is 90 s. (A crashed daemon is noticed at once: its socket is reset.)
        let killed = ContinuousClock.now
        try mustRun(["ip", "-n", sw, "link", "set", "v-n1", "down"])
        let withdrawn = try await eventually(.seconds(5), poll: .milliseconds(10)) {
            try gateways(router, "203.0.113.10/32") == ["192.0.2.12"]
                && gateways(router, "2001:db8:1::10/128") == ["2001:db8::12"]
                && gateways(router, "203.0.113.20/32").isEmpty
        }
        let elapsed = ContinuousClock.now - killed
        try #require(withdrawn, "n1's routes withdrawn within 5 s")
        print("BIRDLabTests: n1 cut off -> its routes withdrawn by the router in \(elapsed) (BFD 3 x 100 ms)")
        #expect(elapsed < .seconds(2))
        // The survivor keeps (or, should BFD have flapped on a loaded machine, gets back) both sessions.
        let survived = try await eventually(.seconds(15)) {
            let survivor = BIRDStatus.protocols(try daemons[2].control("show protocols"))
            return survivor["peer_0"]?.isEstablished == true && survivor["peer_1"]?.isEstablished == true
        }
        #expect(survived, "n2's sessions established")

        // The cable back: n1 calls again within seconds (BIRD's own default waits a minute after the BFD error).
        let reconnected = ContinuousClock.now
        try mustRun(["ip", "-n", sw, "link", "set", "v-n1", "up"])
        let back = try await eventually(.seconds(20), poll: .milliseconds(50)) {
            try gateways(router, "203.0.113.20/32") == ["192.0.2.11"]
        }
        print("BIRDLabTests: n1's link back -> announced again after \(ContinuousClock.now - reconnected)")
        #expect(back, "n1 announces again within 20 s of its link coming back")
    }

    static let routerConfig = """
        router id 192.0.2.1;
        protocol device { scan time 10; }
        protocol direct { ipv4; ipv6; interface "eth0"; }
        protocol bfd { interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }
        protocol kernel { ipv4 { import none; export where proto ~ "n*"; }; merge paths on; }
        protocol kernel { ipv6 { import none; export where proto ~ "n*"; }; merge paths on; }
        template bgp node { local as 64513; bfd on; hold time 90; connect retry time 1; error wait time 1, 5; }
        protocol bgp n1v4 from node { neighbor 192.0.2.11 as 64512; ipv4 { import all; export none; }; }
        protocol bgp n2v4 from node { neighbor 192.0.2.12 as 64512; ipv4 { import all; export none; }; }
        protocol bgp n1v6 from node { neighbor 2001:db8::11 as 64512; ipv6 { import all; export none; }; }
        protocol bgp n2v6 from node { neighbor 2001:db8::12 as 64512; ipv6 { import all; export none; }; }
        """
}

private func peer(_ address: String, bfd: BFDSettings? = nil, password: String? = nil) throws -> BGPPeerSpec {
    try BGPPeerSpec(
        peerAddress: IPAddress(address), peerASN: ASN(64513), localASN: ASN(64512), bfd: bfd,
        password: password.map { try BGPPassword($0, source: "test") })
}

private func temporaryDirectory(_ name: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("klb-bird-\(name)-\(UUID())").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The gateways of a route in a namespace's kernel table, sorted (several: an ECMP route).
private func gateways(_ namespace: String, _ prefix: String) throws -> [String] {
    // `ip route show` lists IPv4 unless told the family.
    let output = try mustRun(["ip", "-j", prefix.contains(":") ? "-6" : "-4", "-n", namespace, "route", "show", prefix])
    guard let routes = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]] else { return [] }
    return routes.flatMap { route -> [String] in
        if let hops = route["nexthops"] as? [[String: Any]] { return hops.compactMap { $0["gateway"] as? String } }
        return (route["gateway"] as? String).map { [$0] } ?? []
    }.sorted()
}

/// One BIRD daemon in a namespace, in the foreground, with its own control socket; stopped by pid.
private final class BIRD: Sendable {
    let socket: String
    let logPath: String
    let process: ChildProcess

    init(namespace: String, directory: String, name: String, config: String) throws {
        let path = "\(directory)/\(name).conf"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        socket = "\(directory)/\(name).ctl"
        logPath = "\(directory)/\(name).log"
        process = try ChildProcess.spawn(
            [
                "ip", "netns", "exec", namespace, "bird", "-f", "-c", path, "-s", socket, "-P",
                "\(directory)/\(name).pid",
            ],
            outputPath: logPath)
    }

    func control(_ command: String) throws -> String {
        try mustRun(["birdc", "-s", socket] + command.split(separator: " ").map(String.init))
    }

    /// Its log and protocols, for a failure's report.
    func diagnostics() -> String {
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "(no log)"
        let protocols = (try? runCommand(["birdc", "-s", socket, "show", "protocols"]).output) ?? "(no birdc)"
        return "--- \(logPath)\n\(log.suffix(3000))\n\(protocols)"
    }

    func stop() {
        guard process.hasExited() == nil else { return }
        process.signal(SIGTERM)
        _ = process.waitBlocking()
    }
}
