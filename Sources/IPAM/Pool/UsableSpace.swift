/// The usable addresses of one family as sorted, disjoint, inclusive intervals, plus the
/// optional rule that skips IPv4 addresses ending in .0 or .255. Never enumerated.
@usableFromInline
struct UsableSpace: Sendable {
    @usableFromInline
    struct Interval: Hashable, Sendable {
        @usableFromInline
        var lo: UInt128
        @usableFromInline
        var hi: UInt128

        @inlinable
        init(lo: UInt128, hi: UInt128) {
            (self.lo, self.hi) = (lo, hi)
        }
    }

    @usableFromInline
    var intervals: [Interval] = []
    @usableFromInline
    let family: IPFamily
    @usableFromInline
    let avoidsZeroAndBroadcastOctets: Bool

    @inlinable
    init(family: IPFamily, intervals: [Interval], avoidsZeroAndBroadcastOctets: Bool) {
        self.family = family
        self.intervals = intervals.sorted { $0.lo < $1.lo }
        self.avoidsZeroAndBroadcastOctets = avoidsZeroAndBroadcastOctets && family == .ipv4
        first = next(atOrAfter: 0)
    }

    /// Removes `[lo, hi]` from the space.
    @inlinable
    mutating func subtract(_ lo: UInt128, _ hi: UInt128) {
        var result: [Interval] = []
        result.reserveCapacity(intervals.count + 1)
        for interval in intervals {
            if interval.hi < lo || interval.lo > hi {
                result.append(interval)
                continue
            }
            if interval.lo < lo { result.append(Interval(lo: interval.lo, hi: lo - 1)) }
            if interval.hi > hi { result.append(Interval(lo: hi + 1, hi: interval.hi)) }
        }
        intervals = result
        first = next(atOrAfter: 0)
    }

    @inlinable
    func isAvoided(_ value: UInt128) -> Bool {
        guard avoidsZeroAndBroadcastOctets else { return false }
        let octet = value & 0xff
        return octet == 0 || octet == 0xff
    }

    /// Index of the first interval whose `hi >= value`.
    @inlinable
    func firstIndex(endingAtOrAfter value: UInt128) -> Int {
        var low = 0
        var high = intervals.count
        while low < high {
            let mid = (low + high) / 2
            if intervals[mid].hi < value { low = mid + 1 } else { high = mid }
        }
        return low
    }

    @inlinable
    func contains(_ value: UInt128) -> Bool {
        let index = firstIndex(endingAtOrAfter: value)
        return index < intervals.count && intervals[index].lo <= value && !isAvoided(value)
    }

    /// The lowest usable address `>= value`.
    @inlinable
    func next(atOrAfter value: UInt128) -> UInt128? {
        var index = firstIndex(endingAtOrAfter: value)
        var candidate = value
        while index < intervals.count {
            let interval = intervals[index]
            candidate = max(candidate, interval.lo)
            while candidate <= interval.hi {
                if !isAvoided(candidate) { return candidate }
                if candidate == interval.hi { break }
                candidate += 1
            }
            index += 1
        }
        return nil
    }

    @inlinable
    func next(after value: UInt128) -> UInt128? {
        value == .max ? nil : next(atOrAfter: value + 1)
    }

    /// The highest usable address `<= value`.
    @inlinable
    func previous(atOrBefore value: UInt128) -> UInt128? {
        var index = firstIndex(endingAtOrAfter: value)
        if index == intervals.count || intervals[index].lo > value { index -= 1 }
        var candidate = value
        while index >= 0 {
            let interval = intervals[index]
            candidate = min(candidate, interval.hi)
            while candidate >= interval.lo {
                if !isAvoided(candidate) { return candidate }
                if candidate == interval.lo { break }
                candidate -= 1
            }
            index -= 1
        }
        return nil
    }

    @inlinable
    func previous(before value: UInt128) -> UInt128? {
        value == 0 ? nil : previous(atOrBefore: value - 1)
    }

    /// The lowest usable address, computed once: every allocation starts its search there.
    @usableFromInline
    var first: UInt128?

    /// Exact number of usable addresses.
    @inlinable
    var size: AddressCount {
        var total = AddressCount.zero
        for interval in intervals {
            var count =
                interval.hi - interval.lo == .max
                ? AddressCount(high: 1, low: 0) : AddressCount(interval.hi - interval.lo + 1)
            if avoidsZeroAndBroadcastOctets {
                count =
                    count
                    - AddressCount(
                        Self.count(in: interval, congruentTo: 0) + Self.count(in: interval, congruentTo: 255))
            }
            total = total + count
        }
        return total
    }

    /// Values `x` in the interval with `x % 256 == residue`.
    @inlinable
    static func count(in interval: Interval, congruentTo residue: UInt128) -> UInt128 {
        func upTo(_ n: UInt128) -> UInt128 { n >= residue ? (n - residue) / 256 + 1 : 0 }
        return upTo(interval.hi) - (interval.lo == 0 ? 0 : upTo(interval.lo - 1))
    }
}
