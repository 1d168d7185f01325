import IPAM
import Keepalived
import KubeClient
import Logging
import Metrics

/// What goes into the ConfigMap, taken in one step so the parts agree.
struct ConfigMapSnapshot: Sendable {
    /// Grows with every change; the state machine compares it with what was last written.
    var generation: Int
    var entries: [VIPEntry]
    var ledger: LegacyLedger
    var plan: VRRPPlan?
}

/// Writes a snapshot of the ledger into the VIP ConfigMap: the I/O only. When to write (one write at a time,
/// batched, a fresh read after someone else's edit) is `ServiceStateMachine`'s decision. Optimistic
/// concurrency: a write starts from the object the last one returned (no GET) unless a fresh read is asked
/// for; a 409 re-reads and retries; the ConfigMap is created when missing.
actor ConfigMapWriter {
    private let client: any KubernetesAPI
    private let namespace: String
    private let name: String
    private let logger: Logger
    /// `PoolAnnotation` of the pools the controller serves from (written with the next write).
    private var poolAnnotation: String
    /// The base of the next write: what the server returned for our last one, without the keys every write
    /// computes again (the VIPs and the plan) and without managedFields, which at 10,000 Services were most of
    /// the writer's memory.
    private var base: Base?
    /// What the first read of the current write found (`.some(nil)`: no ConfigMap), for a repair's report.
    private var lastFetched: ConfigMap??
    public private(set) var writes = 0
    private let writeCounter = Counter(label: "keepalived_lb_configmap_writes_total")
    /// Bytes of `data` in the last write (or the one refused as too large), against the limit.
    private let sizeGauge = Gauge(label: "keepalived_lb_configmap_bytes")

    private let limit: Int

    init(
        client: any KubernetesAPI, namespace: String, name: String, pools: [Pool],
        limit: Int = ConfigMapFull.defaultLimit,
        logger: Logger
    ) {
        self.limit = limit
        self.poolAnnotation = PoolAnnotation(pools).json()
        self.client = client
        self.namespace = namespace
        self.name = name
        self.logger = logger
    }

    func setPools(_ pools: [Pool]) {
        poolAnnotation = PoolAnnotation(pools).json()
    }

    /// What one write did.
    struct Outcome: Sendable {
        /// The resourceVersion the ConfigMap has now (ours).
        let version: String?
        /// With a fresh read: what was undone (nil when nothing was).
        let repair: ConfigMapRepair?
    }

    /// Writes `snapshot`. `freshRead`: someone else changed or deleted the ConfigMap; read it first instead of
    /// starting from our last write, and report what the write undid.
    func write(_ snapshot: ConfigMapSnapshot, freshRead: Bool) async throws -> Outcome {
        let ours = base
        if freshRead { base = nil }
        lastFetched = nil
        for attempt in 1...10 {
            if case .written(let written) = try await writeOnce(snapshot) {
                guard freshRead, let found = lastFetched else {
                    return Outcome(version: written.metadata.resourceVersion, repair: nil)
                }
                // The watch caches metadata only: what the edit left is what the write read first.
                let repair = ConfigMapRepair(
                    found: found, previousPlan: ours.map { $0.plan } ?? written.data[VRRPPlan.dataKey]?.hashValue,
                    written: written)
                return Outcome(version: written.metadata.resourceVersion, repair: repair.isEmpty ? nil : repair)
            }
            logger.debug("ConfigMap changed under us; retrying", metadata: ["attempt": "\(attempt)"])
        }
        throw KubeError(
            .conflict,
            "ConfigMap \(namespace)/\(name) kept changing during 10 write attempts; another writer is fighting over it")
    }

    /// A written ConfigMap without its VIP keys and plan, and digests of what was left out. Equal digests are
    /// taken for equal contents (a 64-bit hash; a collision would skip one write until the next change).
    private struct Base {
        var object: ConfigMap
        /// `data.hashValue` as written, VIPs and plan included.
        var data: Int
        /// The plan's hash as written, nil when there was none.
        var plan: Int?

        /// `kept`: the written data's keys that are neither VIPs nor the plan, known from the write, so the
        /// thousands of VIP keys are neither parsed nor hashed again here.
        init(_ written: ConfigMap, kept: [String: String], data: Int) {
            self.data = data
            plan = written.data[VRRPPlan.dataKey]?.hashValue
            // managedFields name every VIP key again (`f:10.210.0.1`); an update without them keeps the server's.
            object = written.withoutManagedFields()
            object.data = kept
        }

        static func isComputed(_ key: String) -> Bool { key == VRRPPlan.dataKey || (try? IPAddress(key)) != nil }
    }

    private enum Attempt {
        /// The ConfigMap as the write left it, whole (a repair compares it with what the write found).
        case written(ConfigMap)
        case retry
    }

    private func writeOnce(_ snapshot: ConfigMapSnapshot) async throws -> Attempt {
        // kube-keepalived-vip's format is IPv4 only; the plan carries every family.
        var data = VIPConfigMapFormat.encode(snapshot.entries.filter { $0.address.family == .ipv4 })
        let ledger = snapshot.ledger
        let current: ConfigMap
        /// The hash of `current`'s whole data when it is our base (whose computed keys are left out).
        var currentData: Int?
        // The base lacks the plan, so a write without a new plan (it could not be built) keeps the server's.
        if let base, snapshot.plan != nil {
            current = base.object
            currentData = base.data
        } else {
            do {
                current = try await client.get(ConfigMap.self, namespace: namespace, name: name)
                if lastFetched == nil { lastFetched = .some(current) }
            } catch {
                guard error.code == .notFound else { throw error }
                if lastFetched == nil { lastFetched = .some(nil) }
                if let plan = snapshot.plan { data[VRRPPlan.dataKey] = plan.json() }
                try checkSize(data)
                return try await create(data: data, ledger: ledger)
            }
        }
        // Keep keys that are not VIPs (other tools' settings); replace every VIP key, and the plan when there is one.
        let kept = current.data.filter { !Base.isComputed($0.key) }
        data.merge(kept) { ours, _ in ours }
        data[VRRPPlan.dataKey] = snapshot.plan?.json() ?? current.data[VRRPPlan.dataKey]
        var annotations = current.metadata.annotations
        annotations[LegacyLedger.annotation] = legacyAnnotation(ledger)
        annotations[PoolAnnotation.annotation] = poolAnnotation
        try checkSize(data)
        var updated = current
        updated.data = data
        updated.metadata.annotations = annotations
        let hash = data.hashValue
        let unchanged =
            current.metadata.annotations == annotations && (currentData.map { $0 == hash } ?? (current.data == data))
        if unchanged {
            base = Base(updated, kept: kept, data: hash)
            return .written(updated)
        }
        return try await attempt(kept: kept, data: hash, retryingOn: [.conflict, .notFound]) {
            () async throws(KubeError) in try await self.client.update(updated)
        }
    }

    /// Refuses, before the API server would, data it cannot store; records the size either way.
    private func checkSize(_ data: [String: String]) throws(ConfigMapFull) {
        let bytes = ConfigMapFull.size(of: data)
        sizeGauge.record(bytes)
        guard bytes <= limit else { throw ConfigMapFull(bytes: bytes, limit: limit) }
    }

    /// Runs one write; the error codes that mean "someone else was first" (or the object went
    /// away) ask for another round from a fresh read.
    private func attempt(
        kept: [String: String], data: Int, retryingOn codes: Set<KubeError.Code>,
        _ write: () async throws(KubeError) -> ConfigMap
    ) async throws(KubeError) -> Attempt {
        let written: ConfigMap
        do {
            written = try await write()
        } catch {
            base = nil
            guard codes.contains(error.code) else { throw error }
            return .retry
        }
        base = Base(written, kept: kept, data: data)
        writes += 1
        writeCounter.increment()
        return .written(written)
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
        return try await attempt(kept: [:], data: data.hashValue, retryingOn: [.alreadyExists]) {
            () async throws(KubeError) in
            try await self.client.create(fresh)
        }
    }
}
