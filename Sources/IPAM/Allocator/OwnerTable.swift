/// Address → owner. Keyed by the high 64 bits (few distinct values: one per IPv6 /64 in use,
/// one for all of IPv4) and then by the low 64 bits, so an entry costs a 64-bit key, not 128.
@usableFromInline
struct OwnerTable<Owner: Hashable & Sendable>: Sendable {
    @usableFromInline
    var highs: [UInt64] = []
    @usableFromInline
    var tables: [PagedAddressMap<Owner>] = []
    @usableFromInline
    var count = 0

    @inlinable
    func index(of high: UInt64) -> (found: Bool, at: Int) {
        var low = 0
        var upper = highs.count
        while low < upper {
            let mid = (low + upper) / 2
            if highs[mid] < high { low = mid + 1 } else { upper = mid }
        }
        return (low < highs.count && highs[low] == high, low)
    }

    @inlinable
    subscript(value: UInt128) -> Owner? {
        let (found, at) = index(of: UInt64(truncatingIfNeeded: value >> 64))
        return found ? tables[at][UInt64(truncatingIfNeeded: value)] : nil
    }

    @inlinable
    mutating func insert(_ owner: Owner, at value: UInt128) {
        let high = UInt64(truncatingIfNeeded: value >> 64)
        var (found, at) = index(of: high)
        if !found {
            highs.insert(high, at: at)
            tables.insert(PagedAddressMap(), at: at)
            found = true
        }
        if tables[at].updateValue(owner, forKey: UInt64(truncatingIfNeeded: value)) == nil { count += 1 }
    }

    @inlinable
    mutating func remove(_ value: UInt128) -> Owner? {
        let (found, at) = index(of: UInt64(truncatingIfNeeded: value >> 64))
        guard found, let owner = tables[at].removeValue(forKey: UInt64(truncatingIfNeeded: value)) else { return nil }
        if tables[at].count == 0 {
            highs.remove(at: at)
            tables.remove(at: at)
        }
        count -= 1
        return owner
    }

    @inlinable
    var sorted: [(value: UInt128, owner: Owner)] {
        zip(highs, tables).flatMap { high, table in
            table.entries.map { (UInt128(high) << 64 | UInt128($0.key), $0.value) }
        }.sorted { $0.value < $1.value }
    }
}
