public import IPAM
public import Keepalived

/// Which Service holds which addresses: the allocator plus, per Service, its uid and forward
/// method. A value type: every change is one synchronous call, so concurrent reconciles on the
/// controller actor never see half an allocation.
public struct Ledger: Sendable {
    public struct Record: Hashable, Sendable {
        public var uid: String
        public var addresses: [IPAddress]
        public var forwardMethod: ForwardMethod?
    }

    public private(set) var allocator: Allocator<String>
    public private(set) var records: [String: Record] = [:]
    /// Bumped on every change; the ConfigMap writer compares it to what it last wrote.
    public private(set) var generation = 0

    public init(pool: Pool) {
        allocator = Allocator(pool: pool)
    }

    /// Gives `key` addresses satisfying `request`, keeping what it already holds when that still
    /// fits. All or nothing: on failure nothing changes.
    public mutating func ensure(_ key: String, uid: String, request: LoadBalancerRequest) throws(IPAMError)
        -> [IPAddress]
    {
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
        for address in released { allocator.release(address) }
        var taken: [IPAddress] = []
        var result: [IPAddress] = []
        do throws(IPAMError) {
            for family in request.families {
                if let held = kept.first(where: { $0.family == family }) {
                    result.append(held)
                } else if let wanted = request.requested.first(where: { $0.family == family }) {
                    try allocator.allocate(wanted, to: key)
                    taken.append(wanted)
                    result.append(wanted)
                } else {
                    let address = try allocator.allocate(family, to: key)
                    taken.append(address)
                    result.append(address)
                }
            }
        } catch {
            for address in taken { allocator.release(address) }
            // Just freed above, so taking them back cannot fail.
            for address in released { try? allocator.allocate(address, to: key) }
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
        for address in record.addresses { allocator.release(address) }
        generation += 1
        return record.addresses
    }

    /// One address a Service was found holding at start-up.
    public struct Claim: Sendable {
        public let key: String
        public let uid: String
        public let address: IPAddress
        public let forwardMethod: ForwardMethod?

        public init(key: String, uid: String, address: IPAddress, forwardMethod: ForwardMethod?) {
            self.key = key
            self.uid = uid
            self.address = address
            self.forwardMethod = forwardMethod
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
            do {
                try allocator.allocate(claim.address, to: claim.key)
            } catch {
                if error.code == .addressInUse, let holder = allocator.owner(of: claim.address) {
                    conflicts.append((claim, holder))
                } else {
                    outside.append(claim)
                }
                continue
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
