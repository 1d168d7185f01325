public import IPAM
public import Keepalived
public import KubeClient

/// Which Service holds which addresses: an allocator per pool plus, per Service, its uid and forward
/// method. A value type: every change is one synchronous call, so concurrent reconciles on the
/// controller actor never see half an allocation. Pools never overlap (the catalog refuses overlaps),
/// so an address belongs to at most one; an address a Service holds outside every pool (its pool was
/// edited or deleted) stays its own and is never handed to another.
public struct Ledger: Sendable {
    public struct Record: Hashable, Sendable {
        /// The Service's uid (`ServiceUID`: 16 bytes for the usual UUID).
        public var uid: String {
            get { storedUID.text }
            set { storedUID = ServiceUID(newValue) }
        }
        private var storedUID: ServiceUID
        public var addresses: [IPAddress]
        public var forwardMethod: ForwardMethod?
        public var sharingKey: String?
        public var ports: [PortKey]

        init(
            uid: String, addresses: [IPAddress], forwardMethod: ForwardMethod?, sharingKey: String? = nil,
            ports: [PortKey] = []
        ) {
            storedUID = ServiceUID(uid)
            self.addresses = addresses
            self.forwardMethod = forwardMethod
            self.sharingKey = sharingKey
            self.ports = ports
        }
    }

    /// One allocator per pool, in the order pools were configured (the flag pool first).
    public private(set) var allocators: [Allocator<ObjectKey>]
    public private(set) var records: [ObjectKey: Record] = [:]
    /// Bumped on every change; the ConfigMap writer compares it to what it last wrote.
    public private(set) var generation = 0

    /// The first pool's allocator (the controller's `--cidr` pool).
    public var allocator: Allocator<ObjectKey> { allocators[0] }

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

    public func owner(of address: IPAddress) -> ObjectKey? {
        for allocator in allocators {
            if let owner = allocator.owner(of: address) { return owner }
        }
        return records.first { $0.value.addresses.contains(address) }?.key
    }

    public func usage(pool name: String, _ family: IPFamily) -> Usage? {
        allocators.first { $0.pool.name == name }.flatMap { $0.pool.families.contains(family) ? $0.usage(family) : nil }
    }

    /// Every allocation held outside all pools: kept, served, and reported until an operator acts.
    public var outsidePools: [(key: ObjectKey, address: IPAddress)] {
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
        var fresh = pools.map { Allocator<ObjectKey>(pool: $0) }
        for (key, record) in records.sorted(by: { $0.key < $1.key }) {
            for address in record.addresses {
                guard let index = fresh.firstIndex(where: { $0.pool.contains(address) }) else { continue }
                try? fresh[index].allocate(address, to: key)
            }
        }
        allocators = fresh
        generation += 1
    }

    private mutating func allocate(_ address: IPAddress, to key: ObjectKey) throws(IPAMError) {
        // In no pool: the first pool's allocator says so in its own words.
        let index = allocators.firstIndex { $0.pool.contains(address) } ?? 0
        try allocators[index].allocate(address, to: key)
    }

    private mutating func allocate(_ family: IPFamily, to key: ObjectKey, from candidates: [String]) throws(IPAMError)
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

    /// Whether `address` is held by a Service with `sharingKey`.
    func isShared(_ address: IPAddress, by sharingKey: String) -> Bool {
        records.contains { $0.value.sharingKey == sharingKey && $0.value.addresses.contains(address) }
    }

    /// When `key` lets go of a shared address another Service still holds, that Service becomes its
    /// owner in the allocator. Returns the heir, nil when nobody else holds it.
    @discardableResult
    private mutating func handOver(_ address: IPAddress, from key: ObjectKey, to heir: ObjectKey? = nil) -> ObjectKey? {
        guard
            let next = heir
                ?? records.filter({ $0.key != key && $0.value.addresses.contains(address) }).keys.sorted().first
        else { return nil }
        if let index = allocators.firstIndex(where: { $0.pool.contains(address) }),
            allocators[index].owner(of: address) == key
        {
            _ = allocators[index].release(address)
            try? allocators[index].allocate(address, to: next)
        }
        return next
    }

    private mutating func releaseAddress(_ address: IPAddress) {
        guard let index = allocators.firstIndex(where: { $0.pool.contains(address) }) else { return }
        _ = allocators[index].release(address)
    }

    /// Gives `key` addresses satisfying `request`, keeping what it already holds when that still
    /// fits. All or nothing: on failure nothing changes.
    /// `candidates`: the pools new addresses may come from, in order (nil: every pool, in order).
    /// `crossNamespacePools`: pools that allow an address to be shared across namespaces.
    public mutating func ensure(
        _ key: ObjectKey, uid: String, request: LoadBalancerRequest, candidates: [String]? = nil,
        crossNamespacePools: Set<String> = []
    ) throws(IPAMError) -> [IPAddress] {
        let current = records[key]
        var request = request
        if !request.forwardMethodIsExplicit, let recorded = current?.forwardMethod {
            request.forwardMethod = recorded
        }
        let kept = keptAddresses(of: key, current: current, request: request, crossNamespacePools: crossNamespacePools)
        if kept.count == request.families.count, current?.addresses == kept {
            if let current { refresh(key, current, uid: uid, request: request) }
            return kept
        }
        return try reallocate(
            key, uid: uid, request: request, current: current, kept: kept, candidates: candidates ?? poolNames,
            crossNamespacePools: crossNamespacePools)
    }

    /// Everything `key` holds still fits: no address moves; only what its record says about it may change.
    private mutating func refresh(_ key: ObjectKey, _ current: Record, uid: String, request: LoadBalancerRequest) {
        guard
            current.forwardMethod != request.forwardMethod || current.uid != uid || current.ports != request.ports
                || current.sharingKey != request.sharingKey
        else { return }
        store(key, uid: uid, addresses: current.addresses, request: request)
    }

    /// Lets go of what no longer fits (handed to another holder of a shared address, else freed) and takes or
    /// joins the missing families; on failure every step is undone. In place with an undo list: a trial copy of
    /// the allocator would copy every table on every allocation (copy-on-write), O(ledger) per Service.
    private mutating func reallocate(
        _ key: ObjectKey, uid: String, request: LoadBalancerRequest, current: Record?, kept: [IPAddress],
        candidates: [String], crossNamespacePools: Set<String>
    ) throws(IPAMError) -> [IPAddress] {
        let released = (current?.addresses ?? []).filter { !kept.contains($0) }
        var handedOver: [IPAddress: ObjectKey] = [:]
        for address in released {
            if let heir = handOver(address, from: key) { handedOver[address] = heir } else { releaseAddress(address) }
        }
        var taken: [IPAddress] = []
        var result: [IPAddress] = []
        do throws(IPAMError) {
            for family in request.families {
                if let held = kept.first(where: { $0.family == family }) {
                    result.append(held)
                    continue
                }
                let (address, isNew) = try newAddress(
                    family, for: key, request: request, candidates: candidates,
                    crossNamespacePools: crossNamespacePools)
                if isNew { taken.append(address) }
                result.append(address)
            }
        } catch {
            undo(key, taken: taken, released: released, handedOver: handedOver)
            throw error
        }
        store(key, uid: uid, addresses: result, request: request)
        return result
    }

    /// The record of what `key` holds and asked for. Ports decide sharing, and what the agents let through to
    /// the address (the plan's `ports`).
    private mutating func store(_ key: ObjectKey, uid: String, addresses: [IPAddress], request: LoadBalancerRequest) {
        records[key] = Record(
            uid: uid, addresses: addresses, forwardMethod: request.forwardMethod, sharingKey: request.sharingKey,
            ports: request.ports)
        generation += 1
    }

    /// What `key` keeps of what it holds: per family the requested address if it holds it, else the one it
    /// holds; a shared one only within the same sharing group and without a port collision.
    private func keptAddresses(
        of key: ObjectKey, current: Record?, request: LoadBalancerRequest, crossNamespacePools: Set<String>
    ) -> [IPAddress] {
        var kept: [IPAddress] = []
        let sameGroup = current?.sharingKey == request.sharingKey
        for family in request.families {
            if let wanted = request.requested.first(where: { $0.family == family }) {
                if current?.addresses.contains(wanted) == true && sameGroup { kept.append(wanted) }
            } else if let held = current?.addresses.first(where: { $0.family == family }), sameGroup {
                kept.append(held)
            }
        }
        // Only a shared address can have other holders (a scan of every record: not on every reconcile).
        guard request.sharingKey != nil || current?.sharingKey != nil else { return kept }
        return kept.filter {
            sharingRefusal(
                key, sharingKey: request.sharingKey, ports: request.ports, address: $0,
                crossNamespacePools: crossNamespacePools) == nil
        }
    }

    /// One family's address for `key`: the requested one (taken, or joined when its sharing group holds it),
    /// else a sharing partner's, else a free one from `candidates`. `isNew`: taken here (undone on failure).
    private mutating func newAddress(
        _ family: IPFamily, for key: ObjectKey, request: LoadBalancerRequest, candidates: [String],
        crossNamespacePools: Set<String>
    ) throws(IPAMError) -> (address: IPAddress, isNew: Bool) {
        func joinable(_ address: IPAddress) throws(IPAMError) {
            if let refusal = sharingRefusal(
                key, sharingKey: request.sharingKey, ports: request.ports, address: address,
                crossNamespacePools: crossNamespacePools)
            {
                throw IPAMError(.addressInUse, refusal.message)
            }
        }
        if let wanted = request.requested.first(where: { $0.family == family }) {
            if let sharingKey = request.sharingKey, isShared(wanted, by: sharingKey) {
                try joinable(wanted)
                return (wanted, false)
            }
            try allocate(wanted, to: key)
            return (wanted, true)
        }
        if let sharingKey = request.sharingKey,
            let partner = sharingPartner(
                of: key, sharingKey: sharingKey, family: family, crossNamespacePools: crossNamespacePools)
        {
            try joinable(partner)
            return (partner, false)
        }
        return (try allocate(family, to: key, from: candidates), true)
    }

    /// Puts back what a failed `ensure` changed: what it took is freed, what it let go is taken back (just freed
    /// or handed over, so that cannot fail).
    private mutating func undo(
        _ key: ObjectKey, taken: [IPAddress], released: [IPAddress], handedOver: [IPAddress: ObjectKey]
    ) {
        for address in taken { releaseAddress(address) }
        for address in released {
            if let heir = handedOver[address] {
                handOver(address, from: heir, to: key)
            } else {
                try? allocate(address, to: key)
            }
        }
    }

    /// Frees everything `key` holds; returns what was freed.
    @discardableResult
    public mutating func release(_ key: ObjectKey) -> [IPAddress] {
        guard let record = records.removeValue(forKey: key) else { return [] }
        // A shared address stays while another Service of its group holds it.
        let freed = record.addresses.filter { handOver($0, from: key) == nil }
        for address in freed { releaseAddress(address) }
        generation += 1
        return freed
    }

    /// One address a Service was found holding at start-up.
    public struct Claim: Sendable {
        public let key: ObjectKey
        public let uid: String
        public let address: IPAddress
        public let forwardMethod: ForwardMethod?
        /// Being served (found in the Service's status): kept even outside every pool, since a pool
        /// edit or deletion must never move a Service.
        public let keepOutsidePools: Bool
        /// The Service's sharing key and ports: a claim on an address its group holds joins it.
        public let sharingKey: String?
        public let ports: [PortKey]

        public init(
            key: ObjectKey, uid: String, address: IPAddress, forwardMethod: ForwardMethod?,
            keepOutsidePools: Bool = false,
            sharingKey: String? = nil, ports: [PortKey] = []
        ) {
            self.key = key
            self.uid = uid
            self.address = address
            self.forwardMethod = forwardMethod
            self.keepOutsidePools = keepOutsidePools
            self.sharingKey = sharingKey
            self.ports = ports
        }
    }

    /// Rebuilds from claims ordered by priority (oldest Service first). Returns the claims that
    /// lost: their Services get an event and a new address on their next reconcile.
    /// What `restore` found: the claims that lost to an earlier one (and who holds their address), and those
    /// outside every pool.
    public typealias RestoreReport = (conflicts: [(claim: Claim, holder: ObjectKey)], outsidePool: [Claim])

    public mutating func restore(_ claims: [Claim], crossNamespacePools: Set<String> = []) -> RestoreReport {
        var conflicts: [(claim: Claim, holder: ObjectKey)] = []
        var outside: [Claim] = []
        var seen = Set<String>()
        for claim in claims {
            let dedupe = "\(claim.key)|\(claim.address)"
            guard seen.insert(dedupe).inserted else { continue }
            if let record = records[claim.key], record.addresses.contains(where: { $0.family == claim.address.family })
            {
                continue
            }
            let joins = { (ledger: Ledger) -> Bool in
                ledger.owner(of: claim.address) != nil
                    && ledger.sharingRefusal(
                        claim.key, sharingKey: claim.sharingKey, ports: claim.ports, address: claim.address,
                        crossNamespacePools: crossNamespacePools) == nil
            }
            if pool(containing: claim.address) == nil {
                // Another Service holds it (from its status): a conflict to report whatever the claim's tier, or
                // the newer Service gets a new address with no word why.
                if let holder = owner(of: claim.address), !joins(self) {
                    conflicts.append((claim, holder))
                    continue
                }
                outside.append(claim)
                guard claim.keepOutsidePools else { continue }
            } else if claim.sharingKey != nil && joins(self) {
                // Its sharing group holds the address already: it shares it.
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
            var record =
                records[claim.key]
                ?? Record(
                    uid: claim.uid, addresses: [], forwardMethod: claim.forwardMethod, sharingKey: claim.sharingKey,
                    ports: claim.sharingKey == nil ? [] : claim.ports)
            record.addresses.append(claim.address)
            records[claim.key] = record
        }
        generation += 1
        return (conflicts, outside)
    }

    /// All allocations as VIP entries, address order. Keys come from the API server's validated
    /// names, so every record converts.
    /// A shared address appears once, for the first of its Services by namespace/name: the VRRP plan
    /// carries it once, and kube-keepalived-vip's format maps an address to one Service.
    public var entries: [VIPEntry] {
        // In address order, and for an address Services share the first key that makes a valid entry holds it.
        // Sorted by address first: comparing keys (text) only on a shared address keeps this cheap, and it runs
        // for every ConfigMap write.
        var holders: [(address: IPAddress, key: ObjectKey, forwardMethod: ForwardMethod?)] = []
        holders.reserveCapacity(records.count)
        for (key, record) in records {
            for address in record.addresses { holders.append((address, key, record.forwardMethod)) }
        }
        holders.sort { $0.address != $1.address ? $0.address < $1.address : $0.key < $1.key }
        var result: [VIPEntry] = []
        result.reserveCapacity(holders.count)
        for holder in holders where holder.address != result.last?.address {
            guard
                let entry = try? VIPEntry(
                    address: holder.address, namespace: holder.key.namespace ?? "", name: holder.key.name,
                    forwardMethod: holder.forwardMethod)
            else { continue }
            result.append(entry)
        }
        return result
    }

    /// All allocations in the predecessor's ledger format (every family).
    public var legacyLedger: LegacyLedger {
        LegacyLedger(
            records: records.flatMap { key, record in
                record.addresses.map {
                    LegacyLedger.Record(
                        uid: record.uid, ip: $0.description, serviceNamespace: key.namespace ?? "",
                        serviceName: key.name,
                        forwardMethod: record.forwardMethod?.rawValue)
                }
            })
    }
}
