import BenchSupport
import IPAM

#if canImport(Glibc)
    import Glibc
#endif

/// The IPAM cases of `scripts/bench ipam`, in a binary that links nothing but IPAM: the peak-RSS figure is the
/// allocator's, not a harness's (ArgumentParser, Foundation and NIO added ~14 MiB to it in `klb-bench`).
enum Case: String, CaseIterable {
    case allocateAllSlash16 = "allocate_all_slash16"
    case ipv6Slash64 = "ipv6_slash64_1m"
    case restore100k = "restore_100k"
    case randomAllocRelease = "random_alloc_release_1m"
}

let arguments = CommandLine.arguments
guard arguments.count == 3, arguments[1] == "--case", let chosen = Case(rawValue: arguments[2]) else {
    print("usage: klb-ipam-bench --case \(Case.allCases.map(\.rawValue).joined(separator: "|"))")
    exit(2)
}

func run(_ `case`: Case) throws {
    switch `case` {
    case .allocateAllSlash16:
        let pool = try Pool(entries: [PoolEntry("10.210.0.0/16")])
        var total = 0
        let ms = try medianMilliseconds(repeats: 7) {
            var allocator = Allocator<Int>(pool: pool)
            for owner in 0..<65534 { _ = try allocator.allocate(.ipv4, to: owner) }
            total = allocator.usage(.ipv4).used
        }
        precondition(total == 65534)
        report(suite: "ipam", name: "allocate_all_slash16", value: ms, unit: "ms")

    case .ipv6Slash64:
        let pool = try Pool(entries: [PoolEntry("2001:db8:1::/64")])
        var allocator = Allocator<Int>(pool: pool)
        let start = ContinuousClock.now
        for owner in 0..<1_000_000 { _ = try allocator.allocate(.ipv6, to: owner) }
        let ms = milliseconds(ContinuousClock.now - start)
        precondition(allocator.usage(.ipv6).used == 1_000_000)
        report(suite: "ipam", name: "ipv6_slash64_1m_allocations", value: ms, unit: "ms")
        report(suite: "ipam", name: "ipv6_slash64_1m_peak_rss", value: peakRSSMiB(), unit: "MiB")

    case .restore100k:
        let pool = try Pool(entries: [PoolEntry("10.128.0.0/12")])
        var rng = SystemRandomNumberGenerator()
        let base = try IPAddress("10.128.0.1")
        var offsets = Set<UInt128>()
        while offsets.count < 100_000 { offsets.insert(UInt128.random(in: 0..<1_000_000, using: &rng)) }
        let claims = try offsets.map { Allocator<Int>.Claim(address: try base.adding($0), owner: Int($0)) }
        var restored = 0
        let ms = medianMilliseconds(repeats: 5) {
            var allocator = Allocator<Int>(pool: pool)
            restored = allocator.restore(claims).restored
        }
        precondition(restored == 100_000)
        report(suite: "ipam", name: "restore_100k", value: ms, unit: "ms")

    case .randomAllocRelease:
        let pool = try Pool(entries: [PoolEntry("10.128.0.0/12")])
        var allocator = Allocator<Int>(pool: pool)
        var held: [IPAddress] = []
        held.reserveCapacity(200_000)
        for owner in 0..<100_000 { held.append(try allocator.allocate(.ipv4, to: owner)) }
        var rng = SystemRandomNumberGenerator()
        let start = ContinuousClock.now
        for step in 0..<500_000 {
            let index = Int.random(in: 0..<held.count, using: &rng)
            allocator.release(held[index])
            held[index] = try allocator.allocate(.ipv4, to: step)
        }
        let ms = milliseconds(ContinuousClock.now - start)
        precondition(allocator.usage(.ipv4).used == 100_000)
        report(suite: "ipam", name: "random_alloc_release_1m", value: ms, unit: "ms")
    }
}

try run(chosen)
