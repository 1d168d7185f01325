import Foundation
import IPAM
import Testing

/// The shipped examples must parse and give what cidr-examples/README.md promises.
@Suite("cidr-examples")
struct CIDRExamplesTests {
    static func entries(_ file: String) throws -> [String] {
        let path = String(#filePath.split(separator: "/").dropLast(4).joined(separator: "/"))
        let text = try String(contentsOfFile: "/" + path + "/cidr-examples/" + file, encoding: .utf8)
        return text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") && !$0.isEmpty }
    }

    @Test(
        "first Service and size",
        arguments: [
            ("fcp.cidr", "10.210.1.65", 62), ("chn.cidr", "10.210.2.65", 62), ("usa.cidr", "10.210.3.65", 62),
            ("ranges.cidr", "10.210.5.10", 40),
        ])
    func examples(file: String, first: String, size: Int) throws {
        let pool = try Pool.parse(Self.entries(file)).pool
        #expect(pool.size(of: .ipv4) == AddressCount(UInt128(size)))
        var allocator = Allocator<String>(pool: pool)
        #expect(try allocator.allocate(.ipv4, to: "default/hello-world").description == first)
    }

    @Test func dualStack() throws {
        var allocator = Allocator<String>(pool: try Pool.parse(Self.entries("dual-stack.cidr")).pool)
        #expect(try allocator.allocate(.ipv6, to: "x").description == "fd00:10:210:4::1")
        #expect(allocator.usage(.ipv6).size == AddressCount(255))
    }

    @Test func clusterPoolsDoNotOverlap() throws {
        let pools = try ["fcp.cidr", "chn.cidr", "usa.cidr"].map { try Pool.parse(name: $0, Self.entries($0)).pool }
        for (i, a) in pools.enumerated() { for b in pools[(i + 1)...] { #expect(a.overlap(with: b) == nil) } }
    }
}
