import IPAM
import Testing

@Suite("Pools")
struct PoolTests {
    @Test func networkAndBroadcastAreNeverUsable() throws {
        let pool = try Pool(entries: [PoolEntry("10.210.1.64/26")])
        #expect(pool.size(of: .ipv4) == AddressCount(62))
        #expect(try !pool.contains(IPAddress("10.210.1.64")))
        #expect(try !pool.contains(IPAddress("10.210.1.127")))
        #expect(try pool.contains(IPAddress("10.210.1.65")))
        #expect(pool.size(of: .ipv6) == .zero)
    }

    @Test(
        "tiny prefixes are usable, not a crash",
        arguments: [
            ("192.0.2.7/32", 1), ("192.0.2.6/31", 2), ("192.0.2.4/30", 2), ("2001:db8::1/128", 1),
            ("2001:db8::/127", 2), ("2001:db8::/126", 3),
        ])
    func tinyPrefixes(text: String, size: Int) throws {
        let pool = try Pool(entries: [PoolEntry(text)])
        let family: IPFamily = text.contains(":") ? .ipv6 : .ipv4
        #expect(pool.size(of: family) == AddressCount(UInt128(size)))
        var allocator = Allocator<Int>(pool: pool)
        for owner in 0..<size { _ = try allocator.allocate(family, to: owner) }
        #expect(throws: IPAMError.self) { try allocator.allocate(family, to: 99) }
    }

    @Test func rangesAndExclusions() throws {
        let pool = try Pool(
            entries: [PoolEntry("192.0.2.10-192.0.2.20"), PoolEntry("198.51.100.0/24")],
            excluding: [PoolEntry("192.0.2.15"), PoolEntry("198.51.100.0/25")])
        #expect(pool.size(of: .ipv4) == AddressCount(10 + 127))
        #expect(try pool.contains(IPAddress("192.0.2.10")))
        #expect(try !pool.contains(IPAddress("192.0.2.15")))
        #expect(try !pool.contains(IPAddress("198.51.100.100")))
        #expect(try pool.contains(IPAddress("198.51.100.128")))
        #expect(try !pool.contains(IPAddress("198.51.100.255")))
    }

    @Test func avoidBuggyIPs() throws {
        let pool = try Pool(entries: [PoolEntry("198.51.100.250-198.51.101.5")], options: .init(avoidBuggyIPs: true))
        #expect(pool.size(of: .ipv4) == AddressCount(12 - 2))
        var allocator = Allocator<Int>(pool: pool)
        var got: [String] = []
        for owner in 0..<10 { got.append(try allocator.allocate(.ipv4, to: owner).description) }
        #expect(
            got == [
                "198.51.100.250", "198.51.100.251", "198.51.100.252", "198.51.100.253", "198.51.100.254",
                "198.51.101.1", "198.51.101.2", "198.51.101.3", "198.51.101.4", "198.51.101.5",
            ])
        #expect(throws: IPAMError.self) { try allocator.allocate(IPAddress("198.51.101.0"), to: 1) }
        #expect(
            try Pool(entries: [PoolEntry("10.0.0.0/16")], options: .init(avoidBuggyIPs: true)).size(of: .ipv4)
                == AddressCount(65536 - 512))
    }

    @Test func overlapsAreDetected() throws {
        #expect { try Pool(entries: [PoolEntry("10.210.1.0/24"), PoolEntry("10.210.1.64/26")]) } throws: {
            let e = $0 as! IPAMError
            return e.code == .overlappingPools && e.message.contains("10.210.1.0/24")
                && e.message.contains("10.210.1.64/26")
        }
        let fcp = try Pool(name: "fcp", entries: [PoolEntry("10.210.1.64/26")])
        let usa = try Pool(name: "usa", entries: [PoolEntry("10.210.2.64/26")])
        let bad = try Pool(name: "chn", entries: [PoolEntry("10.210.1.100-10.210.2.70")])
        #expect(fcp.overlap(with: usa) == nil)
        #expect(fcp.overlap(with: bad)?.description == "10.210.1.100-10.210.1.127")
        #expect(usa.overlap(with: bad)?.description == "10.210.2.64-10.210.2.70")
    }

    @Test func parseReportsDroppedHostBits() throws {
        let (pool, dropped) = try Pool.parse(["10.210.2.100/26", "2001:db8::/64"])
        #expect(dropped == ["10.210.2.100/26"])
        #expect(pool.families == [.ipv4, .ipv6])
        #expect(pool.description == "default (10.210.2.64/26, 2001:db8::/64)")
        #expect(throws: IPAMError.self) { try Pool(entries: []) }
    }
}
