import BGP
import Foundation
import IPAM
import Testing

@Suite("bird.conf rendering and birdc status (no I/O)")
struct BIRDConfigTests {
    static func peer(
        _ address: String, bfd: BFDSettings? = nil, password: String? = nil, multihop: Int? = nil
    ) throws -> BGPPeerSpec {
        try BGPPeerSpec(
            peerAddress: IPAddress(address), peerASN: ASN(64513), localASN: ASN(64512), bfd: bfd,
            password: password.map { try BGPPassword($0, source: "test") }, ebgpMultihop: multihop)
    }

    @Test func eachPeerExportsOnlyItsFamilysVIPRoutesWithTheNodeAsNextHop() throws {
        let text = BIRDConfig.render(
            routerID: try IPAddress("192.0.2.11"),
            peers: [try Self.peer("192.0.2.1", bfd: .standard, password: "k\\ey $1"), try Self.peer("2001:db8::1")],
            routes: [
                BGPRoute(address: try IPAddress("203.0.113.10")),
                BGPRoute(
                    address: try IPAddress("2001:db8:1::10"), communities: [try BGPCommunity(parsing: "64512:7")],
                    localPreference: 200),
            ])
        #expect(text.contains("router id 192.0.2.11;\n"))
        #expect(text.contains("    route 203.0.113.10/32 blackhole;\n"))
        #expect(
            text.contains(
                "    route 2001:db8:1::10/128 blackhole { bgp_community.add((64512,7)); bgp_local_pref = 200; };\n"))
        #expect(
            text.contains("protocol bgp peer_0 {\n    local as 64512;\n    neighbor 192.0.2.1 port 179 as 64513;\n"))
        #expect(text.contains("    password \"k\\ey $1\";\n"))
        #expect(text.contains("bfd { min rx interval 300 ms; min tx interval 300 ms; multiplier 3; };"))
        #expect(text.contains("protocol bfd {\n}\n"))
        #expect(
            text.contains(
                "    ipv6 {\n        import none;\n        export where proto = \"vips6\";\n        next hop self;\n"))
        #expect(text.components(separatedBy: "protocol bgp ").count == 3)
    }

    @Test func noBFDProtocolWithoutAPeerThatAsksForIt() throws {
        let text = BIRDConfig.render(
            routerID: try IPAddress("192.0.2.11"), peers: [try Self.peer("192.0.2.1")], routes: [])
        #expect(!text.contains("bfd"))
        #expect(!text.contains("password"))
    }

    /// Whatever valid settings come in, the file keeps its shape: balanced braces, one block per peer.
    @Test func everyValidInputKeepsTheFilesStructure() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let printable = (0x20...0x7E).map { Character(UnicodeScalar($0)!) }.filter { $0 != "\"" }
            let password = String(
                (0..<Int.random(in: 1...80, using: &generator)).map { _ in printable.randomElement()! })
            let count = Int.random(in: 0...4, using: &generator)
            let peers = try (0..<count).map { index in
                try Self.peer("192.0.2.\(index + 1)", bfd: index % 2 == 0 ? .standard : nil, password: password)
            }
            let text = BIRDConfig.render(routerID: try IPAddress("192.0.2.11"), peers: peers, routes: [])
            var depth = 0
            var inString = false
            for character in text {
                if character == "\"" { inString.toggle() }
                guard !inString else { continue }
                if character == "{" { depth += 1 }
                if character == "}" { depth -= 1 }
                #expect(depth >= 0)
            }
            #expect(depth == 0 && !inString)
            #expect(text.components(separatedBy: "\nprotocol bgp ").count == count + 1)
        }
    }

    @Test func birdcTablesAreReadIntoSessionsAndBFDStates() throws {
        let protocols = """
            BIRD 2.0.12 ready.
            Name       Proto      Table      State  Since         Info
            device1    Device     ---        up     07:01:02.123
            vips4      Static     master4    up     07:01:02.123
            peer_0     BGP        ---        up     07:01:03.456  Established
            peer_1     BGP        ---        start  07:01:02.123  Active        Socket: Connection refused
            """
        let sessions = BIRDStatus.protocols(protocols)
        #expect(sessions.keys.sorted() == ["peer_0", "peer_1"])
        #expect(sessions["peer_0"]?.isEstablished == true)
        #expect(sessions["peer_1"]?.isEstablished == false)
        #expect(sessions["peer_1"]?.info == "Active        Socket: Connection refused")
        let bfd = """
            BIRD 2.0.12 ready.
            bfd1:
            IP address                Interface  State      Since         Interval  Timeout
            192.0.2.1                 eth0       Up         07:01:03.000    0.300    0.900
            2001:db8::1               eth0       Down       07:01:02.000    1.000    0.000
            """
        let states = BIRDStatus.bfdSessions(bfd)
        #expect(states[try IPAddress("192.0.2.1")] == "Up")
        #expect(states[try IPAddress("2001:db8::1")] == "Down")
    }
}
