/// When the VIP ConfigMap is written: one write at a time, none before the ledger is restored, a rest as long as
/// the last write took between two writes, and someone else's edit undone by a write that reads first. What the
/// writes cover (the ledger's generation) and what waits for them stay in `ServiceStateMachine`, which asks here.
/// A failed write owes again what it was for, after a backoff: a node change or a repair has no Service whose
/// retry would bring it back.
struct ConfigMapWritePipeline: Sendable {
    enum Phase: Equatable, Sendable {
        /// The ledger is not restored yet: nothing is written from here (the restore writes once itself).
        case notReady
        case idle
        /// A write is in flight. `unjudged`: the latest version the watch showed meanwhile (`.some(nil)`: deleted),
        /// judged once the write is back, since the event of our own write can arrive before its response.
        /// `owed`: what this write was for, owed again if it fails.
        case writing(unjudged: String??, owed: Due)
        /// Between two writes.
        case resting
    }

    /// What is owed beyond the statuses waiting for a generation.
    enum Due: Comparable, Sendable {
        case nothing
        /// A write with nothing waiting for it (a node or placement change, a Service that gave way).
        case write
        /// Someone else changed the ConfigMap: the next write reads it first.
        case repair
    }

    private(set) var phase: Phase = .notReady
    private(set) var due: Due = .nothing
    /// The newest generation a write landed with.
    private(set) var writtenGeneration = -1
    private var lastWriteTook: Duration = .zero
    /// Failed writes since the last one that landed: the backoff before the next attempt doubles with each.
    private(set) var failures = 0
    /// Versions our own writes produced: their watch events arrive late under load and are not someone else's.
    private var ourVersions: [String] = []

    var isReady: Bool { phase != .notReady }

    mutating func restored() {
        if phase == .notReady { phase = .idle }
    }

    /// A write is owed even if nothing waits for it.
    mutating func want() {
        due = max(due, .write)
    }

    /// A write landed (ours from here, or the restore's own).
    mutating func written(generation: Int, version: String?, took: Duration) {
        lastWriteTook = took
        failures = 0
        writtenGeneration = max(writtenGeneration, generation)
        if let version, ourVersions.last != version {
            ourVersions.append(version)
            if ourVersions.count > 64 { ourVersions.removeFirst(ourVersions.count - 64) }
        }
        finishWrite()
    }

    /// The write did not land: what it was for is owed again (statuses waiting for it are retried by their owner).
    mutating func failed() {
        guard case .writing(_, let owed) = phase else { return }
        failures += 1
        due = max(due, owed)
        finishWrite()
    }

    /// After a failed write: a backoff (0.5 s, doubling, at most 30 s) when a write is still owed, nil when not.
    mutating func backOffAfterFailure() -> Duration? {
        guard phase == .idle, due > .nothing, failures > 0 else { return nil }
        phase = .resting
        return Self.backoff(failures: failures)
    }

    static func backoff(failures: Int) -> Duration {
        min(.milliseconds(500) * (1 << min(max(failures - 1, 0), 6)), .seconds(30))
    }

    /// The watch showed `version` (nil: deleted). True when it was judged now (a write may be owed); while a
    /// write is in flight it waits for that write's answer.
    mutating func seen(_ version: String?) -> Bool {
        switch phase {
        case .notReady:
            return false
        case .writing(_, let owed):
            phase = .writing(unjudged: .some(version), owed: owed)
            return false
        case .idle, .resting:
            judge(version)
            return true
        }
    }

    mutating func restEnded() {
        if phase == .resting { phase = .idle }
    }

    /// The next write, if one is owed and may start (nil: none); true when it reads first to undo an edit.
    /// `generation`: the ledger's now; `waiting`: statuses or clean-ups wait for a write.
    mutating func nextWrite(generation: Int, waiting: Bool) -> Bool? {
        guard phase == .idle else { return nil }
        guard due == .repair || (writtenGeneration < generation && (due == .write || waiting)) else { return nil }
        let freshRead = due == .repair
        phase = .writing(unjudged: nil, owed: due)
        due = .nothing
        return freshRead
    }

    /// After a write: a rest as long as it took, if more is owed.
    mutating func restAfterWrite(generation: Int, waiting: Bool) -> Duration? {
        guard phase == .idle, waiting || due == .repair || (due == .write && writtenGeneration < generation) else {
            return nil
        }
        phase = .resting
        return lastWriteTook
    }

    private mutating func finishWrite() {
        guard case .writing(let unjudged, _) = phase else { return }
        phase = .idle
        if let sighting = unjudged { judge(sighting) }
    }

    /// Someone else's version of the ConfigMap (or its deletion) is undone by the next write.
    private mutating func judge(_ version: String?) {
        if let version, ourVersions.contains(version) { return }
        due = .repair
    }
}
