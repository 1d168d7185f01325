/// A set of addresses Services may get: a union of CIDRs and ranges minus exclusions.
///
/// Usability policy: in an IPv4 CIDR shorter than /31 the network and broadcast addresses are
/// never handed out (as the predecessor did); in an IPv6 CIDR shorter than /127 the all-zero
/// host (the subnet-router anycast address, RFC 4291 §2.6.1) is skipped. /31, /32, /127 and
/// /128 are wholly usable. Ranges are used exactly as written.
public struct Pool: Sendable, CustomStringConvertible {
    public struct Options: Hashable, Sendable {
        /// Skip IPv4 addresses whose last octet is 0 or 255; some routers and clients mishandle them.
        public var avoidBuggyIPs: Bool

        public init(avoidBuggyIPs: Bool = false) {
            self.avoidBuggyIPs = avoidBuggyIPs
        }
    }

    public let name: String
    public let entries: [PoolEntry]
    public let exclusions: [PoolEntry]
    public let options: Options
    @usableFromInline
    let spaces: [IPFamily: UsableSpace]

    public init(
        name: String = "default", entries: [PoolEntry], excluding exclusions: [PoolEntry] = [],
        options: Options = Options()
    ) throws(IPAMError) {
        guard !entries.isEmpty else {
            throw IPAMError(.emptyPool, "pool \(name) has no CIDR or range; give at least one")
        }
        let sorted = entries.sorted { $0.span.first < $1.span.first }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.span.overlaps(b.span) {
            throw IPAMError(
                .overlappingPools, "pool \(name): \(a) overlaps \(b); each address may belong to one entry only")
        }
        var spaces: [IPFamily: UsableSpace] = [:]
        for family in IPFamily.allCases {
            let intervals = entries.filter { $0.family == family }.map { Self.usableInterval(of: $0) }
            guard !intervals.isEmpty else { continue }
            var space = UsableSpace(
                family: family, intervals: intervals.compactMap { $0 },
                avoidsZeroAndBroadcastOctets: options.avoidBuggyIPs)
            for exclusion in exclusions where exclusion.family == family {
                space.subtract(exclusion.span.first.value, exclusion.span.last.value)
            }
            spaces[family] = space
        }
        self.name = name
        self.entries = entries
        self.exclusions = exclusions
        self.options = options
        self.spaces = spaces
    }

    /// Parses pool entries such as `--cidr` values; `droppedHostBits` lists inputs whose host bits were masked.
    public static func parse(
        name: String = "default", _ texts: [String], excluding: [String] = [], options: Options = Options()
    ) throws(IPAMError) -> (pool: Pool, droppedHostBits: [String]) {
        var entries: [PoolEntry] = []
        var dropped: [String] = []
        for text in texts {
            let parsed = try PoolEntry.parse(text)
            entries.append(parsed.entry)
            if parsed.droppedHostBits { dropped.append(text) }
        }
        var exclusions: [PoolEntry] = []
        for text in excluding { exclusions.append(try PoolEntry.parse(text).entry) }
        return (try Pool(name: name, entries: entries, excluding: exclusions, options: options), dropped)
    }

    private static func usableInterval(of entry: PoolEntry) -> UsableSpace.Interval? {
        switch entry {
        case .range(let r):
            return .init(lo: r.first.value, hi: r.last.value)
        case .cidr(let c):
            var lo = c.first.value
            var hi = c.last.value
            switch c.family {
            case .ipv4 where c.prefixLength < 31:
                lo += 1
                hi -= 1
            case .ipv6 where c.prefixLength < 127:
                lo += 1
            default:
                break
            }
            return .init(lo: lo, hi: hi)
        }
    }

    public var families: [IPFamily] { IPFamily.allCases.filter { spaces[$0] != nil } }

    /// Whether the address may be handed out (inside an entry, not excluded, not skipped by policy).
    public func contains(_ address: IPAddress) -> Bool {
        spaces[address.family]?.contains(address.value) ?? false
    }

    /// Exact number of usable addresses of a family.
    public func size(of family: IPFamily) -> AddressCount {
        spaces[family]?.size ?? .zero
    }

    /// The first address this pool shares with `other`, if any: pools of different clusters
    /// on one L2 segment must not overlap.
    public func overlap(with other: Pool) -> AddressRange? {
        for a in entries {
            for b in other.entries where a.span.overlaps(b.span) {
                let first = max(a.span.first, b.span.first)
                let last = min(a.span.last, b.span.last)
                return try? AddressRange(first: first, last: last)
            }
        }
        return nil
    }

    public var description: String {
        var text = "\(name) (" + entries.map(\.description).joined(separator: ", ")
        if !exclusions.isEmpty { text += " excluding " + exclusions.map(\.description).joined(separator: ", ") }
        return text + ")"
    }
}
