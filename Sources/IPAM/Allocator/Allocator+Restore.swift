extension Allocator {
    /// One recorded allocation found in cluster state.
    public struct Claim: Sendable {
        public let address: IPAddress
        public let owner: Owner

        @inlinable
        public init(address: IPAddress, owner: Owner) {
            self.address = address
            self.owner = owner
        }
    }

    /// What `restore` could not accept. Nothing is dropped silently: every claim is either
    /// restored or listed here.
    public struct RestoreReport: Sendable {
        /// Claims refused because another owner holds (or claimed first) the same address.
        public var conflicts: [(claim: Claim, holder: Owner)] = []
        /// Claims for addresses the pool does not contain (pool shrunk, or foreign status).
        public var outsidePool: [Claim] = []
        public var restored = 0

        @usableFromInline
        init() {}

        @inlinable
        public var isClean: Bool { conflicts.isEmpty && outsidePool.isEmpty }
    }

    /// Re-records existing allocations in one call. Claims are taken in order, so put the
    /// claim that should win a conflict first (for Services: the oldest).
    @inlinable
    public mutating func restore(_ claims: [Claim]) -> RestoreReport {
        var report = RestoreReport()
        var accepted: [IPFamily: [Claim]] = [:]
        var batch: [IPAddress: Owner] = [:]
        batch.reserveCapacity(claims.count)
        for claim in claims {
            guard pool.contains(claim.address) else {
                report.outsidePool.append(claim)
                continue
            }
            if let holder = families[claim.address.family]!.owners[claim.address.value] ?? batch[claim.address] {
                if holder != claim.owner { report.conflicts.append((claim, holder)) }
                continue
            }
            batch[claim.address] = claim.owner
            accepted[claim.address.family, default: []].append(claim)
        }
        for (family, list) in accepted {
            families[family]!.takeAll(list.map { ($0.address.value, $0.owner) })
            report.restored += list.count
        }
        return report
    }
}
