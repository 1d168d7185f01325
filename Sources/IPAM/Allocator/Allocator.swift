/// Hands out addresses of a `Pool`: lowest free first, specific requests, release and restore.
/// Costs O(log n) in the number of allocated addresses and never enumerates the pool.
public struct Allocator<Owner: Hashable & Sendable>: Sendable {
    public let pool: Pool
    @usableFromInline
    var families: Families

    @inlinable
    public init(pool: Pool) {
        self.pool = pool
        families = Families(
            v4: pool.spaces[.ipv4].map { FamilyAllocator(space: $0) },
            v6: pool.spaces[.ipv6].map { FamilyAllocator(space: $0) })
    }

    /// Two stored slots rather than a dictionary: hashing the family on every call costs more than the allocation.
    @usableFromInline
    struct Families: Sendable {
        @usableFromInline
        var v4: FamilyAllocator<Owner>?
        @usableFromInline
        var v6: FamilyAllocator<Owner>?

        @usableFromInline
        init(v4: FamilyAllocator<Owner>?, v6: FamilyAllocator<Owner>?) {
            (self.v4, self.v6) = (v4, v6)
        }

        @inlinable
        subscript(family: IPFamily) -> FamilyAllocator<Owner>? {
            get { family == .ipv4 ? v4 : v6 }
            _modify {
                if family == .ipv4 { yield &v4 } else { yield &v6 }
            }
        }
    }

    /// Gives `owner` the lowest free address of `family`.
    @inlinable
    public mutating func allocate(_ family: IPFamily, to owner: Owner) throws(IPAMError) -> IPAddress {
        guard families[family] != nil else {
            throw IPAMError(
                .poolExhausted, "pool \(pool.name) has no \(family) addresses; add an \(family) CIDR or range to it")
        }
        // Mutate in place: holding a copy of the state here would make every call copy the ledger.
        guard let (value, runBefore) = families[family]!.lowestFree() else {
            throw IPAMError(
                .poolExhausted,
                "pool \(pool.description) has no free \(family) address left (\(families[family]!.owners.count) in "
                    + "use); widen the pool or delete unused LoadBalancer Services"
            )
        }
        families[family]!.take(value, owner: owner, runBefore: runBefore)
        return IPAddress(family: family, value: value)
    }

    /// Gives `owner` exactly `address`. Asking again for an address the owner already holds succeeds.
    @inlinable
    public mutating func allocate(_ address: IPAddress, to owner: Owner) throws(IPAMError) {
        guard pool.contains(address), families[address.family] != nil else {
            throw IPAMError(.addressOutOfPool, "\(address) is not a usable address of pool \(pool.description)")
        }
        if let holder = families[address.family]!.owners[address.value] {
            if holder == owner { return }
            throw IPAMError(.addressInUse, "\(address) is already allocated to \(holder)")
        }
        families[address.family]!.take(address.value, owner: owner)
    }

    /// Frees `address`; returns who held it, or nil when it was free.
    @discardableResult
    @inlinable
    public mutating func release(_ address: IPAddress) -> Owner? {
        families[address.family]?.free(address.value)
    }

    @inlinable
    public func owner(of address: IPAddress) -> Owner? {
        families[address.family]?.owners[address.value]
    }

    @inlinable
    public func usage(_ family: IPFamily) -> Usage {
        let size = pool.size(of: family)
        let used = families[family]?.owners.count ?? 0
        return Usage(size: size, used: used, free: size - AddressCount(UInt128(used)))
    }

    /// Every allocation, in address order.
    @inlinable
    public var allocations: [(address: IPAddress, owner: Owner)] {
        IPFamily.allCases.flatMap { family -> [(address: IPAddress, owner: Owner)] in
            guard let state = families[family] else { return [] }
            return state.owners.sorted.map { (IPAddress(family: family, value: $0.value), $0.owner) }
        }
    }
}

/// Pool figures of one family; exact even for an IPv6 /64 or larger.
public struct Usage: Hashable, Sendable {
    public let size: AddressCount
    public let used: Int
    public let free: AddressCount

    @usableFromInline
    init(size: AddressCount, used: Int, free: AddressCount) {
        (self.size, self.used, self.free) = (size, used, free)
    }
}
