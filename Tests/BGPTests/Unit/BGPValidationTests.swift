import BGP
import IPAM
import Testing

@Suite("BGP settings validation (no I/O)")
struct BGPValidationTests {
    @Test func asNumbersAreWholeNumbersOutsideTheReservedOnes() throws {
        #expect(try ASN(parsing: "64512", field: "peerASN").value == 64512)
        #expect(try ASN(parsing: "4200000000", field: "peerASN").value == 4_200_000_000)
        for reserved in ["0", "23456", "4294967295"] {
            #expect(throws: BGPError.self) { try ASN(parsing: reserved, field: "peerASN") }
        }
        for garbage in ["", "-1", "65536x", "4294967296", "64 512", "0x10", "６４５１２", "1.10"] {
            let error = #expect(throws: BGPError.self) { try ASN(parsing: garbage, field: "spec.peerASN") }
            #expect(error?.code == .invalidASN)
            #expect(error?.message.contains("spec.peerASN") == true)
        }
    }

    @Test func passwordsThatCannotBeWrittenSafelyAreRefusedWithTheReason() throws {
        let cases: [(String, String)] = [
            ("pass\"word", "a double quote"), ("pass\nword", "a line break"), ("pass\rword", "a line break"),
            ("pass\u{1}word", "a control character"), ("pässword", "a non-ASCII character"),
            (String(repeating: "x", count: 81), "81 bytes"), ("", "0 bytes"),
        ]
        for (text, reason) in cases {
            let error = #expect(throws: BGPError.self) { try BGPPassword(text, source: "Secret kube-system/tor") }
            #expect(error?.code == .invalidPassword)
            #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("Secret kube-system/tor") == true)
            // The password itself is never repeated in the message.
            if text.count > 3 { #expect(error?.message.contains(text) == false) }
        }
        let password = try BGPPassword("s3cr3t \\ $ ' ; } {", source: "Secret kube-system/tor")
        #expect("\(password)" == "(password)")
    }

    @Test func bfdAndTimersStayInTheirRanges() throws {
        #expect(BFDSettings.standard.detectionMilliseconds == 900)
        #expect(throws: BGPError.self) { try BFDSettings(receive: 5, transmit: 300, multiplier: 3) }
        #expect(throws: BGPError.self) { try BFDSettings(receive: 300, transmit: 60_001, multiplier: 3) }
        #expect(throws: BGPError.self) { try BFDSettings(receive: 300, transmit: 300, multiplier: 0) }
        let router = try IPAddress("192.0.2.1")
        let asn = try ASN(64512)
        let other = try ASN(64513)
        #expect(try BGPPeerSpec(peerAddress: router, peerASN: asn, localASN: other).keepaliveTimeSeconds == 30)
        #expect(
            try BGPPeerSpec(peerAddress: router, peerASN: asn, localASN: other, holdTimeSeconds: 0).keepaliveTimeSeconds
                == 0)
        for hold in [1, 2, 65_536] {
            let error = #expect(throws: BGPError.self) {
                try BGPPeerSpec(peerAddress: router, peerASN: asn, localASN: other, holdTimeSeconds: hold)
            }
            #expect(error?.code == .invalidTimer)
        }
        #expect(throws: BGPError.self) {
            try BGPPeerSpec(
                peerAddress: router, peerASN: asn, localASN: other, holdTimeSeconds: 9, keepaliveTimeSeconds: 4)
        }
        #expect(throws: BGPError.self) { try BGPPeerSpec(peerAddress: router, peerASN: asn, localASN: other, port: 0) }
        #expect(throws: BGPError.self) {
            try BGPPeerSpec(
                peerAddress: router, peerASN: asn, localASN: other, sourceAddress: IPAddress("2001:db8::11"))
        }
        // Multihop is an eBGP setting.
        #expect(throws: BGPError.self) {
            try BGPPeerSpec(peerAddress: router, peerASN: asn, localASN: asn, ebgpMultihop: 2)
        }
    }

    @Test func communitiesAreTwoSixteenBitNumbers() throws {
        #expect(try BGPCommunity(parsing: "64512:100").description == "64512:100")
        for garbage in ["64512", "65536:1", "1:2:3", ":1", "a:b", "1:-1", "１:2"] {
            #expect(throws: BGPError.self) { try BGPCommunity(parsing: garbage) }
        }
        let route = try BGPRoute(
            address: IPAddress("203.0.113.10"),
            communities: [
                BGPCommunity(parsing: "64512:2"), BGPCommunity(parsing: "64512:1"), BGPCommunity(parsing: "64512:2"),
            ])
        #expect(route.communities.map(\.description) == ["64512:1", "64512:2"])
    }
}
