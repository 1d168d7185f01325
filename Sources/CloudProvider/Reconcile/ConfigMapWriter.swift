import IPAM
import Keepalived
import KubeClient
import Logging
import Metrics

/// What goes into the ConfigMap, taken in one step so the parts agree.
struct ConfigMapSnapshot: Sendable {
    /// Grows with every change; the writer compares it with what it last wrote.
    var generation: Int
    var entries: [VIPEntry]
    var ledger: LegacyLedger
    var plan: VRRPPlan?
}

/// Writes the ledger into the VIP ConfigMap. Callers that ask while a write is in flight share
/// the next one, so a burst of Services costs a few writes, not one each. Optimistic concurrency:
/// the next write starts from the object the last one returned (no GET); a 409 re-reads and
/// retries; the ConfigMap is created when missing.
actor ConfigMapWriter {
    private let client: any KubernetesAPI
    private let namespace: String
    private let name: String
    private let logger: Logger
    private let snapshot: @Sendable () async -> ConfigMapSnapshot
    /// `PoolAnnotation` of the pools the controller serves from (written with the next write).
    private var poolAnnotation: String
    /// A write is on its way; callers that arrive meanwhile wait here for its outcome.
    private var writing = false
    private var waiting: [CheckedContinuation<Result<Int, any Error>, Never>] = []
    private var writtenGeneration = -1
    /// What the server returned for our last write: the base of the next one.
    private var lastWritten: ConfigMap? {
        didSet {
            guard let version = lastWritten?.metadata.resourceVersion, ourVersions.last != version else { return }
            ourVersions.append(version)
            if ourVersions.count > 64 { ourVersions.removeFirst(ourVersions.count - 64) }
        }
    }
    /// Versions our own writes produced: their watch events arrive late under load and are not
    /// someone else's edit.
    private var ourVersions: [String] = []
    public private(set) var writes = 0
    private let writeCounter = Counter(label: "keepalived_lb_configmap_writes_total")

    init(
        client: any KubernetesAPI, namespace: String, name: String, pools: [Pool], logger: Logger,
        snapshot: @escaping @Sendable () async -> ConfigMapSnapshot
    ) {
        self.poolAnnotation = PoolAnnotation(pools).json()
        self.client = client
        self.namespace = namespace
        self.name = name
        self.logger = logger
        self.snapshot = snapshot
    }

    func setPools(_ pools: [Pool]) {
        poolAnnotation = PoolAnnotation(pools).json()
    }

    /// Returns once the ConfigMap holds the ledger as of this call (or later). Whoever sees a
    /// write finish records it, so no caller can spin on a finished task that another has yet to clear.
    /// `target`: the generation the caller needs written (cheap to know; building the whole
    /// snapshot just to learn it made every reconcile O(ledger size)).
    func flush(upTo target: Int) async throws {
        while writtenGeneration < target {
            try await writeShared()
        }
    }

    /// Joins the write in flight, or makes one. The write runs in the caller's task; whoever joins gets its
    /// outcome, and `writing` is false again before any of them resumes.
    private func writeShared() async throws {
        if writing {
            let written = try await withCheckedContinuation { waiting.append($0) }.get()
            writtenGeneration = max(writtenGeneration, written)
            return
        }
        writing = true
        let outcome: Result<Int, any Error>
        do { outcome = .success(try await write()) } catch { outcome = .failure(error) }
        writing = false
        if case .success(let written) = outcome { writtenGeneration = max(writtenGeneration, written) }
        let joined = waiting
        waiting.removeAll()
        for waiter in joined { waiter.resume(returning: outcome) }
        _ = try outcome.get()
    }

    /// After someone else changed or deleted the ConfigMap: one write from a fresh read. Reconciles
    /// never wait on this; they only wait for their own generation.
    /// Returns what was undone, or nil when there was nothing to repair.
    func repair() async throws -> ConfigMapRepair? {
        // The event of our own write can arrive before the write's response: judge the latest sighting only
        // once no write is in flight, or our own write looks like someone else's. Never join that write: it
        // started before the sighting and may have landed before the edit.
        if writing { _ = await withCheckedContinuation { waiting.append($0) } }
        guard let sighting = lastSighting else { return nil }
        lastSighting = nil
        if let version = sighting?.metadata.resourceVersion, ourVersions.contains(version) { return nil }
        let ours = lastWritten
        lastWritten = nil
        lastFetched = nil
        try await writeShared()
        // The watch caches metadata only: what the edit left is what the write read first.
        guard let written = lastWritten, let found = lastFetched else { return nil }
        let repair = ConfigMapRepair(found: found, expected: ours ?? written, written: written)
        return repair.isEmpty ? nil : repair
    }

    /// What the last fresh read found (`.some(nil)`: no ConfigMap).
    private var lastFetched: ConfigMap??

    /// The latest object the watch showed (`.some(nil)`: deleted), not yet judged by `repair()`.
    private var lastSighting: ConfigMap??

    /// The ConfigMap as the server has it now (a watch event, nil once deleted). Only the latest
    /// sighting matters: a write of ours after someone else's edit was based on that edit (or got
    /// a 409 and re-read), so it needs no repair.
    func observed(_ configMap: ConfigMap?) {
        lastSighting = .some(configMap)
    }

    private enum Attempt {
        case written
        case retry
    }

    private func write() async throws -> Int {
        for attempt in 1...10 {
            let snapshot = await snapshot()
            if try await writeOnce(snapshot) == .written { return snapshot.generation }
            logger.debug("ConfigMap changed under us; retrying", metadata: ["attempt": "\(attempt)"])
        }
        throw KubeError(
            .conflict,
            "ConfigMap \(namespace)/\(name) kept changing during 10 write attempts; another writer is fighting over it")
    }

    private func writeOnce(_ snapshot: ConfigMapSnapshot) async throws(KubeError) -> Attempt {
        // kube-keepalived-vip's format is IPv4 only; the plan carries every family.
        var data = VIPConfigMapFormat.encode(snapshot.entries.filter { $0.address.family == .ipv4 })
        let ledger = snapshot.ledger
        let current: ConfigMap
        if let lastWritten {
            current = lastWritten
        } else {
            do {
                current = try await client.get(ConfigMap.self, namespace: namespace, name: name)
                if lastFetched == nil { lastFetched = .some(current) }
            } catch {
                guard error.code == .notFound else { throw error }
                if lastFetched == nil { lastFetched = .some(nil) }
                if let plan = snapshot.plan { data[VRRPPlan.dataKey] = plan.json() }
                return try await create(data: data, ledger: ledger)
            }
        }
        // Keep keys that are not VIPs (other tools' settings); replace every VIP key.
        for (key, value) in current.data where (try? IPAddress(key)) == nil { data[key] = value }
        if let plan = snapshot.plan { data[VRRPPlan.dataKey] = plan.json() }
        var annotations = current.metadata.annotations
        annotations[LegacyLedger.annotation] = legacyAnnotation(ledger)
        annotations[PoolAnnotation.annotation] = poolAnnotation
        if current.data == data && current.metadata.annotations == annotations {
            lastWritten = current
            return .written
        }
        var updated = current
        updated.data = data
        updated.metadata.annotations = annotations
        return try await attempt(retryingOn: [.conflict, .notFound]) { () async throws(KubeError) in
            try await self.client.update(updated)
        }
    }

    /// Runs one write; the error codes that mean "someone else was first" (or the object went
    /// away) ask for another round from a fresh read.
    private func attempt(retryingOn codes: Set<KubeError.Code>, _ write: () async throws(KubeError) -> ConfigMap)
        async throws(KubeError) -> Attempt
    {
        do {
            lastWritten = try await write()
        } catch {
            lastWritten = nil
            guard codes.contains(error.code) else { throw error }
            return .retry
        }
        writes += 1
        writeCounter.increment()
        return .written
    }

    /// Kubernetes caps an object's annotations at 256 KiB in total; the predecessor's ledger
    /// outgrows that near 1,500 Services. Past the cap it is dropped (our own restore reads the
    /// Service statuses and the data); only a rollback to the Go provider needs it.
    static let legacyAnnotationLimit = 200_000
    /// The record count at which it first outgrew the cap: larger ledgers are not encoded again.
    private var legacyTooLargeAt: Int?

    private func legacyAnnotation(_ ledger: LegacyLedger) -> String? {
        if let legacyTooLargeAt, ledger.records.count >= legacyTooLargeAt { return nil }
        let text = ledger.json()
        guard text.utf8.count > Self.legacyAnnotationLimit else { return text }
        if legacyTooLargeAt == nil {
            logger.warning(
                """
                the predecessor's ledger annotation would exceed Kubernetes' annotation size limit; it is no longer \
                written (a rollback to the Go provider would not see these Services)
                """,
                metadata: ["bytes": "\(text.utf8.count)", "services": "\(ledger.records.count)"])
        }
        legacyTooLargeAt = min(legacyTooLargeAt ?? .max, ledger.records.count)
        return nil
    }

    private func create(data: [String: String], ledger: LegacyLedger) async throws(KubeError) -> Attempt {
        var fresh = ConfigMap(name: name, namespace: namespace, data: data)
        fresh.metadata.annotations = [PoolAnnotation.annotation: poolAnnotation]
        if let text = legacyAnnotation(ledger) { fresh.metadata.annotations[LegacyLedger.annotation] = text }
        fresh.metadata.labels = ["app.kubernetes.io/managed-by": "keepalived-cloud-provider"]
        return try await attempt(retryingOn: [.alreadyExists]) { () async throws(KubeError) in
            try await self.client.create(fresh)
        }
    }
}
