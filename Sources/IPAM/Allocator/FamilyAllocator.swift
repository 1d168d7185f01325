/// Allocation state of one address family. Runs of allocated addresses are merged across
/// unusable gaps, so the lowest free address is always one lookup away.
@usableFromInline
struct FamilyAllocator<Owner: Hashable & Sendable>: Sendable {
    @usableFromInline
    let space: UsableSpace
    @usableFromInline
    var runs = RunTree()
    @usableFromInline
    var owners = OwnerTable<Owner>()

    @inlinable
    init(space: UsableSpace) {
        self.space = space
    }

    /// The lowest free address, and the run that ends just before it (known for free here,
    /// and saving `take` a lookup on the allocation hot path).
    @inlinable
    func lowestFree() -> (value: UInt128, runBefore: Int32?)? {
        guard let first = space.first else { return nil }
        guard let run = runs.starting(at: first) else { return (first, nil) }
        return space.next(after: runs[run].hi).map { ($0, run) }
    }

    /// Records `value` (usable and free) as taken by `owner`.
    @inlinable
    mutating func take(_ value: UInt128, owner: Owner) {
        let left = space.previous(before: value).flatMap { p in runs.floor(p).flatMap { runs[$0].hi == p ? $0 : nil } }
        take(value, owner: owner, runBefore: left)
    }

    /// `runBefore` is the run ending at the usable address just below `value`, if any.
    @inlinable
    mutating func take(_ value: UInt128, owner: Owner, runBefore left: Int32?) {
        owners.insert(owner, at: value)
        let right = space.next(after: value).flatMap { runs.starting(at: $0) }
        switch (left, right) {
        case (let l?, let r?):
            let hi = runs[r].hi
            runs.remove(lo: runs[r].lo)
            runs.update(l, lo: runs[l].lo, hi: hi)
        case (let l?, nil):
            runs.update(l, lo: runs[l].lo, hi: value)
        case (nil, let r?):
            runs.update(r, lo: value, hi: runs[r].hi)
        case (nil, nil):
            runs.insert(lo: value, hi: value)
        }
    }

    /// Takes many free, usable values at once. Into an empty state the runs are built in one
    /// sorted pass, which is what a restart's restore does.
    @inlinable
    mutating func takeAll(_ claims: [(value: UInt128, owner: Owner)]) {
        guard runs.count == 0 else {
            for claim in claims { take(claim.value, owner: claim.owner) }
            return
        }
        let sorted = claims.sorted { $0.value < $1.value }
        var built: [(lo: UInt128, hi: UInt128)] = []
        for claim in sorted {
            owners.insert(claim.owner, at: claim.value)
            if let last = built.last, space.next(after: last.hi) == claim.value {
                built[built.count - 1].hi = claim.value
            } else {
                built.append((claim.value, claim.value))
            }
        }
        runs = RunTree(sortedRuns: built)
    }

    /// Frees `value`; returns its owner, or nil when it was not allocated.
    @inlinable
    mutating func free(_ value: UInt128) -> Owner? {
        guard let owner = owners.remove(value) else { return nil }
        guard let index = runs.floor(value) else { preconditionFailure("allocated address outside every run") }
        let run = runs[index]
        switch (run.lo == value, run.hi == value) {
        case (true, true):
            runs.remove(lo: value)
        case (true, false):
            runs.update(index, lo: space.next(after: value)!, hi: run.hi)
        case (false, true):
            runs.update(index, lo: run.lo, hi: space.previous(before: value)!)
        case (false, false):
            runs.update(index, lo: run.lo, hi: space.previous(before: value)!)
            runs.insert(lo: space.next(after: value)!, hi: run.hi)
        }
        return owner
    }
}
