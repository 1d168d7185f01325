import IPAM
import TestTraits
import Testing

@Suite("Allocator properties")
struct AllocatorPropertyTests {
    static let seeds: [UInt64] = (1...25).map { $0 &* 7919 }

    /// A random small pool: one to three non-overlapping pieces, maybe an exclusion, maybe avoid-buggy.
    static func randomPool(_ rng: inout SeededGenerator) throws -> Pool {
        var entries: [PoolEntry] = []
        var base = UInt32(0xC633_6400)  // 198.51.100.0
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            if Bool.random(using: &rng) {
                let length = Int.random(in: 24...32, using: &rng)
                let block = UInt32(1) << UInt32(32 - length)
                base = (base + block - 1) / block * block
                let cidr = try CIDR(network: .v4(IPv4Address(base)), prefixLength: length)
                entries.append(.cidr(cidr))
                base += block + 512
            } else {
                let size = UInt32.random(in: 1...300, using: &rng)
                entries.append(
                    .range(try AddressRange(first: .v4(IPv4Address(base)), last: .v4(IPv4Address(base + size - 1)))))
                base += size + 7
            }
        }
        let exclusions: [PoolEntry] =
            Bool.random(using: &rng)
            ? [.range(try AddressRange(first: .v4(IPv4Address(0xC633_6405)), last: .v4(IPv4Address(0xC633_6409))))] : []
        return try Pool(
            entries: entries, excluding: exclusions, options: .init(avoidBuggyIPs: Bool.random(using: &rng)))
    }

    @Test("allocate until full hands out exactly the pool size, never twice", arguments: seeds)
    func fillExactly(seed: UInt64) throws {
        var rng = SeededGenerator(state: seed)
        let pool = try Self.randomPool(&rng)
        var allocator = Allocator<Int>(pool: pool)
        var seen = Set<IPAddress>()
        var previous: IPAddress?
        while let address = try? allocator.allocate(.ipv4, to: seen.count) {
            #expect(pool.contains(address), "seed \(seed)")
            #expect(seen.insert(address).inserted, "seed \(seed): \(address) handed out twice")
            if let previous { #expect(previous < address, "seed \(seed): not lowest-first") }
            previous = address
        }
        #expect(AddressCount(UInt128(seen.count)) == pool.size(of: .ipv4), "seed \(seed)")
        #expect(allocator.usage(.ipv4).free == .zero)
    }

    @Test("release then allocate returns the lowest free address", arguments: seeds)
    func releaseThenLowest(seed: UInt64) throws {
        var rng = SeededGenerator(state: seed)
        let pool = try Self.randomPool(&rng)
        var allocator = Allocator<Int>(pool: pool)
        var held = Set<IPAddress>()
        for step in 0..<600 {
            if held.isEmpty || Int.random(in: 0..<3, using: &rng) > 0 {
                guard let address = try? allocator.allocate(.ipv4, to: step) else { continue }
                #expect(!held.contains(address), "seed \(seed): duplicate \(address)")
                held.insert(address)
            } else {
                let victim = held.randomElement(using: &rng)!
                #expect(allocator.release(victim) != nil)
                held.remove(victim)
                // The model: the lowest usable address not held, found by brute force.
                let expected = try Self.bruteForceLowestFree(pool, held)
                if let expected {
                    let got = try allocator.allocate(.ipv4, to: -step)
                    #expect(got == expected, "seed \(seed) step \(step)")
                    held.insert(got)
                }
            }
        }
        #expect(allocator.usage(.ipv4).used == held.count)
        #expect(Set(allocator.allocations.map(\.address)) == held)
    }

    static func bruteForceLowestFree(_ pool: Pool, _ held: Set<IPAddress>) throws -> IPAddress? {
        var address = IPAddress.v4(IPv4Address(0xC633_6400))
        for _ in 0..<4000 {
            if pool.contains(address) && !held.contains(address) { return address }
            address = try address.adding(1)
        }
        return nil
    }

    @Test("restore of random claims keeps the first claimant and reports every other", arguments: seeds)
    func restoreModel(seed: UInt64) throws {
        var rng = SeededGenerator(state: seed)
        let pool = try Pool(entries: [PoolEntry("203.0.113.0/24")])
        var claims: [Allocator<Int>.Claim] = []
        for owner in 0..<200 {
            let address = IPAddress.v4(IPv4Address(0xCB00_7100 + UInt32.random(in: 0...255, using: &rng)))
            claims.append(.init(address: address, owner: owner))
        }
        var allocator = Allocator<Int>(pool: pool)
        let report = allocator.restore(claims)
        var winners: [IPAddress: Int] = [:]
        for claim in claims where pool.contains(claim.address) && winners[claim.address] == nil {
            winners[claim.address] = claim.owner
        }
        #expect(report.restored == winners.count)
        #expect(report.restored + report.conflicts.count + report.outsidePool.count == claims.count)
        for (address, owner) in winners { #expect(allocator.owner(of: address) == owner) }
        // The bulk-built run tree must behave like one built address by address.
        var held = Set(winners.keys)
        for victim in held.shuffled(using: &rng).prefix(held.count / 2) {
            #expect(allocator.release(victim) != nil)
            held.remove(victim)
        }
        while let expected = held.count < 254
            ? (1...254).lazy.map({ IPAddress.v4(IPv4Address(0xCB00_7100 + UInt32($0))) }).first(where: {
                !held.contains($0)
            }) : nil
        {
            #expect(try allocator.allocate(.ipv4, to: -1) == expected, "seed \(seed)")
            held.insert(expected)
        }
        #expect(throws: IPAMError.self) { try allocator.allocate(.ipv4, to: -2) }
    }

    @Test("parse(print(x)) == x for random addresses", arguments: seeds)
    func textRoundTrip(seed: UInt64) throws {
        var rng = SeededGenerator(state: seed)
        for _ in 0..<500 {
            let v4 = IPv4Address(UInt32.random(in: 0...UInt32.max, using: &rng))
            #expect(try IPv4Address(v4.description) == v4)
            // Bias towards zero groups so "::" compression is exercised.
            var value: UInt128 = 0
            for _ in 0..<8 {
                let group: UInt16 =
                    Int.random(in: 0..<3, using: &rng) == 0 ? 0 : UInt16.random(in: 0...UInt16.max, using: &rng)
                value = value << 16 | UInt128(group)
            }
            let v6 = IPv6Address(value)
            #expect(try IPv6Address(v6.description) == v6, "\(v6)")
            let cidr = try CIDR(network: .v6(v6), prefixLength: Int.random(in: 0...128, using: &rng))
            #expect(try CIDR(cidr.description) == cidr)
        }
    }
}
