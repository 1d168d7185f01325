import IPAM
import Testing

@Suite("Allocator")
struct AllocatorTests {
    @Test func firstServiceGetsDot65LikeThePredecessor() throws {
        var allocator = Allocator<String>(pool: try Pool(entries: [PoolEntry("10.210.1.64/26")]))
        #expect(try allocator.allocate(.ipv4, to: "default/hello-world").description == "10.210.1.65")
        #expect(try allocator.allocate(.ipv4, to: "default/second").description == "10.210.1.66")
        #expect(allocator.release(try IPAddress("10.210.1.65")) == "default/hello-world")
        #expect(try allocator.allocate(.ipv4, to: "default/third").description == "10.210.1.65")
    }

    @Test func specificRequests() throws {
        var allocator = Allocator<String>(pool: try Pool(entries: [PoolEntry("192.0.2.0/24")]))
        try allocator.allocate(IPAddress("192.0.2.1"), to: "a")
        try allocator.allocate(IPAddress("192.0.2.1"), to: "a")
        #expect(throws: IPAMError(.addressInUse, "192.0.2.1 is already allocated to a")) {
            try allocator.allocate(IPAddress("192.0.2.1"), to: "b")
        }
        #expect { try allocator.allocate(IPAddress("203.0.113.1"), to: "b") } throws: {
            ($0 as! IPAMError).code == .addressOutOfPool
        }
        #expect { try allocator.allocate(IPAddress("192.0.2.255"), to: "b") } throws: {
            ($0 as! IPAMError).code == .addressOutOfPool
        }
        #expect { try allocator.allocate(.ipv6, to: "b") } throws: {
            ($0 as! IPAMError).message.contains("no IPv6 addresses")
        }
        #expect(try allocator.allocate(.ipv4, to: "b").description == "192.0.2.2")
        #expect(allocator.owner(of: try IPAddress("192.0.2.2")) == "b")
        #expect(allocator.release(try IPAddress("192.0.2.77")) == nil)
    }

    @Test func ipv6UsageIsExact() throws {
        var allocator = Allocator<Int>(pool: try Pool(entries: [PoolEntry("2001:db8:1::/64")]))
        #expect(try allocator.allocate(.ipv6, to: 1).description == "2001:db8:1::1")
        let usage = allocator.usage(.ipv6)
        #expect(usage.size.description == "18446744073709551615")
        #expect(usage.used == 1)
        #expect(usage.free.description == "18446744073709551614")
    }

    @Test func restoreReportsConflictsAndForeignAddresses() throws {
        var allocator = Allocator<String>(pool: try Pool(entries: [PoolEntry("10.210.1.64/26")]))
        typealias Claim = Allocator<String>.Claim
        let report = allocator.restore([
            Claim(address: try IPAddress("10.210.1.70"), owner: "old"),
            Claim(address: try IPAddress("10.210.1.70"), owner: "young"),
            Claim(address: try IPAddress("10.210.1.70"), owner: "old"),
            Claim(address: try IPAddress("10.210.9.9"), owner: "elsewhere"),
            Claim(address: try IPAddress("10.210.1.65"), owner: "first"),
        ])
        #expect(report.restored == 2)
        #expect(report.conflicts.map { "\($0.claim.owner)<\($0.holder)" } == ["young<old"])
        #expect(report.outsidePool.map(\.owner) == ["elsewhere"])
        #expect(allocator.owner(of: try IPAddress("10.210.1.70")) == "old")
        #expect(try allocator.allocate(.ipv4, to: "next").description == "10.210.1.66")
    }

    @Test func dualStackPool() throws {
        var allocator = Allocator<String>(
            pool: try Pool(entries: [PoolEntry("198.51.100.0/30"), PoolEntry("2001:db8::/126")]))
        #expect(try allocator.allocate(.ipv4, to: "svc").description == "198.51.100.1")
        #expect(try allocator.allocate(.ipv6, to: "svc").description == "2001:db8::1")
        #expect(allocator.allocations.map(\.address.description) == ["198.51.100.1", "2001:db8::1"])
    }
}
