public import IPAM
public import Keepalived

/// Which Service holds which addresses: an allocator per pool plus, per Service, its uid and forward
/// method. A value type: every change is one synchronous call, so concurrent reconciles on the
/// controller actor never see half an allocation. Pools never overlap (the catalog refuses overlaps),
/// so an address belongs to at most one; an address a Service holds outside every pool (its pool was
/// edited or deleted) stays its own and is never handed to another.
public struct Ledger: Sendable {
    public struct Record: Hashable, Sendable {
        public var uid: String
        public var addresses: [IPAddress]
        public var forwardMethod: ForwardMethod?
    }

    /// One allocator per pool, in the order pools were configured (the flag pool first).
    public private(set) var allocators: [Allocator<String>]
    public private(set) var records: [String: Record] = [:]
    /// Bumped on every change; the ConfigMap writer compares it to what it last wrote.
    public private(set) var generation = 0

    /// The first pool's allocator (the controller's `--cidr` pool).
    public var allocator: Allocator<String> { allocators[0] }

    public init(pool: Pool) {
        allocators = [Allocator(pool: pool)]
    }

    public init(pools: [Pool]) {
        precondition(!pools.isEmpty, "a ledger needs a pool")
        allocators = pools.map { Allocator(pool: $0) }
    }

    public var poolNames: [String] { allocators.map(\.pool.name) }

    /// The pool an address belongs to, if any.
    public func pool(containing address: IPAddress) -> String? {
        allocators.first { $0.pool.contains(address) }?.pool.name
    }

    public func owner(of address: IPAddress) -> String? {
        for allocator in allocators {
            if let owner = allocator.owner(of: address) { return owner }
        }
        return records.first { $0.value.addresses.contains(address) }?.key
    }

    public func usage(pool name: String, _ family: IPFamily) -> Usage? {
        allocators.first { $0.pool.name == name }.flatMap { $0.pool.families.contains(family) ? $0.usage(family) : nil }
    }

    /// Every allocation held outside all pools: kept, served, and reported until an operator acts.
    public var outsidePools: [(key: String, address: IPAddress)] {
        records.flatMap { key, record in
            record.addresses.filter { address in !allocators.contains { $0.pool.contains(address) } }.map {
                (key, $0)
            }
        }.sorted { ($0.key, $0.address) < ($1.key, $1.address) }
    }

    /// A new set of pools (a VIPPool added, edited or deleted). Every address a Service holds stays
    /// with it: re-entered into the pool that now contains it, or kept outside every pool.
    public mutating func reconfigure(pools: [Pool]) {
        precondition(!pools.isEmpty, "a ledger needs a pool")
        var fresh = pools.map { Allocator<String>(pool: $0) }
        for (key, record) in records.sorted(by: { $0.key < $1.key }) {
            for address in record.addresses {
                guard let index = fresh.firstIndex(where: { $0.pool.contains(address) }) else { continue }
                try? fresh[index].allocate(address, to: key)
            }
        }
        allocators = fresh
        generation += 1
    }

    private mutating func allocate(_ address: IPAddress, to key: String) throws(IPAMError) {
        // In no pool: the first pool's allocator says so in its own words.
        let index = allocators.firstIndex { $0.pool.contains(address) } ?? 0
        try allocators[index].allocate(address, to: key)
    }

    private mutating func allocate(_ family: IPFamily, to key: String, from candidates: [String]) throws(IPAMError)
        -> IPAddress
    {
        var last: IPAMError?
        for name in candidates {
            guard let index = allocators.firstIndex(where: { $0.pool.name == name }),
                allocators[index].pool.families.contains(family)
            else { continue }
            do { return try allocators[index].allocate(family, to: key) } catch { last = error }
        }
        if let last { throw last }
        // No candidate has the family: the first one says so in its own words.
        guard let index = candidates.first.flatMap({ name in allocators.firstIndex { $0.pool.name == name } }) else {
            throw IPAMError(.emptyPool, "no pool may give this Service an address")
        }
        return try allocators[index].allocate(family, to: key)
    }

    private mutating func releaseAddress(_ address: IPAddress) {
        guard let index = allocators.firstIndex(where: { $0.pool.contains(address) }) else { return }
        _ = allocators[index].release(address)
    }

    /// Gives `key` addresses satisfying `request`, keeping what it already holds when that still
    /// fits. All or nothing: on failure nothing changes.
    /// `candidates`: the pools new addresses may come from, in order (nil: every pool, in order).
    public mutating func ensure(
        _ key: String, uid: String, request: LoadBalancerRequest, candidates: [String]? = nil
    ) throws(IPAMError) -> [IPAddress] {
        let candidates = candidates ?? poolNames
        let current = records[key]
        var request = request
        if !request.forwardMethodIsExplicit, let recorded = current?.forwardMethod {
            request.forwardMethod = recorded
        }
        var kept: [IPAddress] = []
        for family in request.families {
            if let wanted = request.requested.first(where: { $0.family == family }) {
                if current?.addresses.contains(wanted) == true { kept.append(wanted) }
            } else if let held = current?.addresses.first(where: { $0.family == family }) {
                kept.append(held)
            }
        }
        if kept.count == request.families.count, current?.addresses == kept {
            if current?.forwardMethod != request.forwardMethod || current?.uid != uid {
                records[key] = Record(uid: uid, addresses: kept, forwardMethod: request.forwardMethod)
                generation += 1
            }
            return kept
        }

        // In place with an undo list: a trial copy of the allocator would copy every table on
        // every allocation (copy-on-write), O(ledger) per Service.
        let released = (current?.addresses ?? []).filter { !kept.contains($0) }
        for address in released { releaseAddress(address) }
        var taken: [IPAddress] = []
        var result: [IPAddress] = []
        do throws(IPAMError) {
            for family in request.families {
                if let held = kept.first(where: { $0.family == family }) {
                    result.append(held)
                } else if let wanted = request.requested.first(where: { $0.family == family }) {
                    try allocate(wanted, to: key)
                    taken.append(wanted)
                    result.append(wanted)
                } else {
                    let address = try allocate(family, to: key, from: candidates)
                    taken.append(address)
                    result.append(address)
                }
            }
        } catch {
            for address in taken { releaseAddress(address) }
            // Just freed above, so taking them back cannot fail.
            for address in released { try? allocate(address, to: key) }
            throw error
        }
        records[key] = Record(uid: uid, addresses: result, forwardMethod: request.forwardMethod)
        generation += 1
        return result
    }

    /// Frees everything `key` holds; returns what was freed.
    @discardableResult
    public mutating func release(_ key: String) -> [IPAddress] {
        guard let record = records.removeValue(forKey: key) else { return [] }
        for address in record.addresses { releaseAddress(address) }
        generation += 1
        return record.addresses
    }

    /// One address a Service was found holding at start-up.
    public struct Claim: Sendable {
        public let key: String
        public let uid: String
        public let address: IPAddress
        public let forwardMethod: ForwardMethod?
        /// Being served (found in the Service's status): kept even outside every pool, since a pool
        /// edit or deletion must never move a Service.
        public let keepOutsidePools: Bool

        public init(
            key: String, uid: String, address: IPAddress, forwardMethod: ForwardMethod?, keepOutsidePools: Bool = false
        ) {
            self.key = key
            self.uid = uid
            self.address = address
            self.forwardMethod = forwardMethod
            self.keepOutsidePools = keepOutsidePools
        }
    }

    /// Rebuilds from claims ordered by priority (oldest Service first). Returns the claims that
    /// lost: their Services get an event and a new address on their next reconcile.
    public mutating func restore(_ claims: [Claim]) -> (
        conflicts: [(claim: Claim, holder: String)], outsidePool: [Claim]
    ) {
        var conflicts: [(claim: Claim, holder: String)] = []
        var outside: [Claim] = []
        var seen = Set<String>()
        for claim in claims {
            let dedupe = "\(claim.key)|\(claim.address)"
            guard seen.insert(dedupe).inserted else { continue }
            if let record = records[claim.key], record.addresses.contains(where: { $0.family == claim.address.family })
            {
                continue
            }
            if pool(containing: claim.address) == nil {
                outside.append(claim)
                guard claim.keepOutsidePools else { continue }
                if let holder = owner(of: claim.address) {
                    conflicts.append((claim, holder))
                    continue
                }
            } else {
                do {
                    try allocate(claim.address, to: claim.key)
                } catch {
                    if error.code == .addressInUse, let holder = owner(of: claim.address) {
                        conflicts.append((claim, holder))
                    } else {
                        outside.append(claim)
                    }
                    continue
                }
            }
            var record = records[claim.key] ?? Record(uid: claim.uid, addresses: [], forwardMethod: claim.forwardMethod)
            record.addresses.append(claim.address)
            records[claim.key] = record
        }
        generation += 1
        return (conflicts, outside)
    }

    /// All allocations as VIP entries, address order. Keys come from the API server's validated
    /// names, so every record converts.
    public var entries: [VIPEntry] {
        records.flatMap { key, record -> [VIPEntry] in
            let (namespace, name) = Self.split(key)
            return record.addresses.compactMap {
                try? VIPEntry(address: $0, namespace: namespace, name: name, forwardMethod: record.forwardMethod)
            }
        }.sorted { $0.address < $1.address }
    }

    /// All allocations in the predecessor's ledger format (every family).
    public var legacyLedger: LegacyLedger {
        LegacyLedger(
            records: records.flatMap { key, record in
                let (namespace, name) = Self.split(key)
                return record.addresses.map {
                    LegacyLedger.Record(
                        uid: record.uid, ip: $0.description, serviceNamespace: namespace, serviceName: name,
                        forwardMethod: record.forwardMethod?.rawValue)
                }
            })
    }

    private static func split(_ key: String) -> (namespace: String, name: String) {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        return (parts[0], parts.count > 1 ? parts[1] : "")
    }
}
