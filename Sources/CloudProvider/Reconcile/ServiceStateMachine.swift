import IPAM
import Keepalived
import KubeClient

/// The controller's decisions, as a value: events in (a Service seen or gone, a finalizer added, the
/// ConfigMap written or failed, a status written or failed, nodes changed, the ledger restored), actions
/// out (add a finalizer, write the ConfigMap, patch a status, post an event, clean up, finish or retry a key).
/// `ServiceController` runs the actions and reports their outcomes back here; nothing here does I/O, sleeps
/// or reads a clock, so every decision is tested on values.
///
/// Ordering it keeps: a status names only addresses a written ConfigMap holds (statuses wait for their
/// generation); our finalizer goes on with (or before) the first status that names an address; a released
/// Service's finalizer goes only once the ConfigMap no longer names its addresses;
/// one ConfigMap write at a time, covering everything allocated since the previous one, and back-to-back
/// writes rest as long as the last one took.
struct ServiceStateMachine: Sendable {
    enum Event: Sendable {
        /// A worker took the key: the Service as the informer has it (nil: deleted), and its namespace's labels.
        case serviceChanged(ObjectKey, Service?, namespaceLabels: [String: String])
        /// The finalizer patch returned this object; `previousVersion` is the version it was added to.
        case finalizerAdded(Service, previousVersion: String, namespaceLabels: [String: String])
        /// The ledger was rebuilt from the cluster and its first ConfigMap written (`configMapWritten` came
        /// first): reconciling may start.
        case restored
        /// Our write landed: the ConfigMap holds `generation` and has resourceVersion `version`.
        case configMapWritten(generation: Int, version: String?, took: Duration)
        case configMapFailed(any Error)
        /// The ConfigMap's watch showed this version (nil: deleted): ours, or someone else's edit to undo.
        case configMapSeen(version: String?)
        /// The rest between two ConfigMap writes is over.
        case restEnded
        case statusWritten(ObjectKey, olderVersions: [String])
        case statusFailed(ObjectKey, any Error)
        case nodesChanged([String])
        /// Where Local Services' VIPs may be held changed (their endpoints, or which node leads a group).
        case placementChanged
        /// Which Services no node may announce, and why (their `Announced` condition); the caller re-queues
        /// those whose entry changed.
        case placementReported([ObjectKey: Unannounced])
    }

    enum Action: Sendable {
        case addFinalizer(Service)
        /// A False condition on the Service (after a Warning event with the same reason).
        case setCondition(Service, reason: String, message: String)
        case postEvent(ObjectReference, EventRecorder.EventType, reason: String, message: String)
        case countAllocationFailure(reason: String)
        case countAllocations(Int)
        case countReleases(Int)
        /// Write the ConfigMap as the ledger is now; report `configMapWritten`. `freshRead`: read it first (someone
        /// else changed it) and report what the write undid.
        case writeConfigMap(freshRead: Bool)
        /// Report `restEnded` after this long.
        case rest(Duration)
        case patchStatus(StatusUpdate)
        /// Clear what we wrote into the Service's status, drop our finalizer, say what was released.
        case cleanUp(Service, freed: [IPAddress])
        /// The key is handled; the queue may hand it out again.
        case done(ObjectKey)
        /// The key failed; it comes back with backoff (and its owner hears why, unless it already did).
        case retry(ObjectKey, any Error)
    }

    /// What waits for a generation of the ConfigMap to be written.
    private enum Waiting: Sendable {
        case status(StatusUpdate)
        case cleanUp(Service, freed: [IPAddress])
        case done(ObjectKey)

        var key: ObjectKey {
            switch self {
            case .status(let update): update.key
            case .cleanUp(let service, _): service.key
            case .done(let key): key
            }
        }
    }

    let configuration: ControllerConfiguration
    /// Who holds which address; changed only here (`claimsFound`, `poolsChanged` and the Service events).
    private(set) var ledger: Ledger
    /// The usable pools and their settings; replaced only by `poolsChanged`.
    private(set) var catalog: PoolCatalog
    /// Names of the nodes that may hold VIPs, sorted; part of the VRRP plan.
    private(set) var eligibleNodes: [String] = []
    private var nodeGeneration = 0
    /// Per Service, the resourceVersions older than the status we last wrote: a reconcile that sees one of
    /// them runs on a cache the watch has not caught up with yet, and skips (the event of our own write
    /// follows). Without this a lagging watch doubled status writes.
    private var superseded: [ObjectKey: [String]] = [:]
    /// When the ConfigMap is written (one at a time, rests, repairs of others' edits).
    private var pipeline = ConfigMapWritePipeline()
    var isReady: Bool { pipeline.isReady }
    /// Services no node may announce, and why (see `Unannounced`).
    private(set) var unannounced: [ObjectKey: Unannounced] = [:]

    private var waiting: [(generation: Int, item: Waiting)] = []
    /// Services whose first address waits for the ConfigMap: at its size limit they give way, so a write of
    /// everything else (a deletion, a Local VIP's move) still lands.
    private var fresh: Set<ObjectKey> = []
    /// Statuses whose ConfigMap is written, waiting for a place among the patches in flight.
    private var statusQueue: [StatusUpdate] = []
    private var statusHead = 0
    private var statusesInFlight = 0
    /// Status patches in flight at once.
    private let statusWidth: Int

    init(configuration: ControllerConfiguration, statusWidth: Int = 64) {
        self.configuration = configuration
        self.statusWidth = max(statusWidth, 1)
        ledger = Ledger(pool: configuration.pool)
        catalog = PoolCatalog(flagPool: configuration.pool, objects: [])
    }

    /// What a new set of VIPPools changed.
    struct PoolsChange: Sendable {
        /// A pool was added, removed or changed its addresses: every held address was re-filed (none moved).
        var reconfigured: Bool
        /// A pool started or stopped terminating: the Services in it are looked at again.
        var terminatingChanged: Bool
    }

    /// The catalog built from the VIPPool objects now listed. A change of pools re-files every held address in
    /// the pool that now contains it; an address in none stays with its Service (`Ledger.outsidePools`).
    mutating func poolsChanged(_ fresh: PoolCatalog) -> PoolsChange {
        let change = PoolsChange(
            reconfigured: catalog.usable.map(\.signature) != fresh.usable.map(\.signature),
            terminatingChanged: catalog.usable.map(\.terminating) != fresh.usable.map(\.terminating))
        catalog = fresh
        if change.reconfigured { ledger.reconfigure(pools: fresh.pools) }
        return change
    }

    /// The addresses Services were found holding at start-up, best claim first (`Ledger.restore`); the claims
    /// that lost and those outside every pool come back for the caller to report.
    mutating func claimsFound(_ claims: [Ledger.Claim]) -> Ledger.RestoreReport {
        ledger.restore(claims, crossNamespacePools: catalog.crossNamespacePools)
    }

    /// Grows with every ledger or node change; the ConfigMap writer compares it with what it last wrote.
    var generation: Int { ledger.generation + nodeGeneration }

    /// Statuses and other work waiting for a ConfigMap write or a patch slot (events give way while non-zero).
    var outstanding: Int { waiting.count + (statusQueue.count - statusHead) + statusesInFlight }

    mutating func handle(_ event: Event) -> [Action] {
        defer { releaseIdleStorage() }
        switch event {
        case .serviceChanged(let key, let service, let labels):
            guard let service else {
                superseded[key] = nil
                return release(key) { _ in .done(key) }
            }
            if let older = superseded[key] {
                if let version = service.metadata.resourceVersion, older.contains(version) { return [.done(key)] }
                superseded[key] = nil
            }
            return decide(service, seenVersions: [service.metadata.resourceVersion ?? ""], labels: labels)
        case .finalizerAdded(let service, let previous, let labels):
            return decide(service, seenVersions: [previous, service.metadata.resourceVersion ?? ""], labels: labels)
        case .restored:
            pipeline.restored()
            return nextWrite()
        case .configMapWritten(let written, let version, let took):
            pipeline.written(generation: written, version: version, took: took)
            return released() + nextWrite()
        case .configMapSeen(let version):
            // Before the restore's own write, what the watch shows is about to be replaced anyway.
            return pipeline.seen(version) ? nextWrite() : []
        case .configMapFailed(let error):
            pipeline.failed()
            let failed = waiting
            waiting.removeAll()
            guard error is ConfigMapFull else { return failed.map { .retry($0.item.key, error) } + backOff() }
            // Full: new Services let go of their addresses (they are retried with backoff and told why); what
            // is left is written, so nothing already served waits on them.
            var gaveWay = false
            var actions: [Action] = []
            for entry in failed {
                let key = entry.item.key
                if case .status = entry.item, fresh.remove(key) != nil, !ledger.release(key).isEmpty {
                    gaveWay = true
                    actions.append(.countAllocationFailure(reason: "ConfigMapFull"))
                }
                actions.append(.retry(key, error))
            }
            if gaveWay {
                pipeline.want()
                return actions + nextWrite()
            }
            return actions + backOff()
        case .restEnded:
            pipeline.restEnded()
            return nextWrite()
        case .statusWritten(let key, let older):
            statusesInFlight -= 1
            fresh.remove(key)
            superseded[key] = older
            return [.done(key)] + nextPatches()
        case .statusFailed(let key, let error):
            statusesInFlight -= 1
            // Deleted meanwhile: its deletion event brings it back to release the address.
            let outcome: Action =
                (error as? KubeError)?.code == .notFound ? .done(key) : .retry(key, error)
            return [outcome] + nextPatches()
        case .nodesChanged(let names):
            guard names != eligibleNodes else { return [] }
            eligibleNodes = names
            nodeGeneration += 1
            pipeline.want()
            return nextWrite()
        case .placementChanged:
            nodeGeneration += 1
            pipeline.want()
            return nextWrite()
        case .placementReported(let problems):
            unannounced = problems
            return []
        }
    }

    // MARK: - One Service

    private mutating func decide(_ service: Service, seenVersions: [String], labels: [String: String]) -> [Action] {
        let key = service.key
        let finalizer = ControllerConfiguration.finalizer
        let managed = configuration.serves(service)
        let hasFinalizer = service.metadata.finalizers.contains(finalizer)
        if !managed || service.metadata.deletionTimestamp != nil {
            guard hasFinalizer || ledger.records[key] != nil else { return [.done(key)] }
            return release(key) { .cleanUp(service, freed: $0) }
        }
        let request: LoadBalancerRequest
        let candidates: [PoolCatalog.Definition]
        do {
            (request, candidates) = try choosePools(for: service, labels: labels)
        } catch {
            return refuse(service, error)
        }
        let crossNamespacePools = catalog.crossNamespacePools
        if let refusal = ledger.sharingPreflight(key, request: request, crossNamespacePools: crossNamespacePools) {
            return refuse(service, refusal)
        }

        var actions: [Action] = []
        let held = ledger.records[key]?.addresses ?? []
        if held.isEmpty && service.status.loadBalancer.ingress.isEmpty {
            fresh.insert(key)
            actions.append(
                .postEvent(
                    service.reference, .normal, reason: "EnsuringLoadBalancer", message: "Ensuring load balancer"))
        }
        let addresses: [IPAddress]
        do throws(IPAMError) {
            addresses = try ledger.ensure(
                key, uid: service.metadata.uid ?? "", request: request, candidates: candidates.map(\.name),
                crossNamespacePools: crossNamespacePools)
        } catch {
            // An exhausted pool may free up: retried with backoff; anything else waits for a change.
            return actions + [
                .countAllocationFailure(reason: "\(error.code)"),
                .postEvent(service.reference, .warning, reason: "AllocationFailed", message: error.message),
                .setCondition(service, reason: "AllocationFailed", message: error.message),
                error.code == .poolExhausted ? .retry(key, error) : .done(key),
            ]
        }
        let new = Set(addresses).subtracting(held).count
        if new > 0 { actions.append(.countAllocations(new)) }

        // With no eligible node at all the first status says so already (one write, not two).
        let note =
            unannounced[key]
            ?? (eligibleNodes.isEmpty
                ? addresses.first.map {
                    PlacementProblem.noEligibleNode(pool: ledger.pool(containing: $0) ?? "none").condition
                } : nil)
        guard let status = Self.status(for: service, addresses: addresses, ledger: ledger, unannounced: note) else {
            if !hasFinalizer { return actions + [.addFinalizer(service)] }
            // Nothing to announce, but the ledger may have changed (a new forward method).
            return actions + wait(for: generation, .done(key))
        }
        // Our finalizer goes on with the first status that names an address, in the same write: until then
        // a deleted Service needs no clean-up here (its deletion event releases the address; after a restart
        // the ledger is rebuilt from existing Services only, so the ConfigMap forgets it).
        var update = StatusUpdate(reference: service.reference, status: status, olderVersions: seenVersions)
        if !hasFinalizer {
            update.finalizers = service.metadata.finalizers + [finalizer]
            update.resourceVersion = service.metadata.resourceVersion
        }
        return actions + wait(for: generation, .status(update))
    }

    /// The Service's request and the pools it may get new addresses from (see `PoolCatalog`): the
    /// request's families are what those pools offer, so PreferDualStack gets one family when only
    /// one is on offer and RequireDualStack is refused naming the missing one.
    func choosePools(for service: Service, labels: [String: String]) throws(ServiceRefusal) -> (
        LoadBalancerRequest, [PoolCatalog.Definition]
    ) {
        let namespace = service.metadata.namespace ?? ""
        let every = Array(Set(catalog.usable.flatMap(\.pool.families))).sorted { $0.rawValue < $1.rawValue }
        let preview = try LoadBalancerRequest(
            service: service, families: every, poolName: catalog.usable.map(\.name).joined(separator: ", "),
            defaultForwardMethod: configuration.defaultForwardMethod)
        let candidates = try catalog.candidates(
            namespace: namespace, labels: labels, annotation: service.metadata.annotations[VIPPool.serviceAnnotation],
            requested: preview.requested)
        // The common case, one pool: the preview already is the request.
        if catalog.usable.count == 1 { return (preview, candidates) }
        let offered = Set(candidates.flatMap(\.pool.families) + preview.requested.map(\.family))
        let request = try LoadBalancerRequest(
            service: service, families: IPFamily.allCases.filter { offered.contains($0) },
            poolName: candidates.map(\.name).joined(separator: ", "),
            defaultForwardMethod: configuration.defaultForwardMethod)
        return (request, candidates)
    }

    /// Tells the Service's owner why it gets no address (a Warning and a False condition); nothing else changes.
    private func refuse(_ service: Service, _ refusal: ServiceRefusal) -> [Action] {
        [
            .countAllocationFailure(reason: refusal.reason),
            .postEvent(service.reference, .warning, reason: refusal.reason, message: refusal.message),
            .setCondition(service, reason: refusal.reason, message: refusal.message),
            .done(service.key),
        ]
    }

    /// Lets go of what `key` holds. A shared address another Service still holds is not freed, but the
    /// ConfigMap changes all the same (the address now names that Service).
    /// `then` is done once the ConfigMap no longer names what was freed (at once when nothing changed).
    private mutating func release(_ key: ObjectKey, then: ([IPAddress]) -> Waiting) -> [Action] {
        fresh.remove(key)
        let before = ledger.generation
        let freed = ledger.release(key)
        let counted: [Action] = freed.isEmpty ? [] : [.countReleases(freed.count)]
        if ledger.generation == before { return counted + perform(then(freed)) }
        return counted + wait(for: generation, then(freed))
    }

    // MARK: - The ConfigMap and the statuses that wait for it

    private mutating func wait(for generation: Int, _ item: Waiting) -> [Action] {
        if pipeline.writtenGeneration >= generation { return perform(item) }
        waiting.append((generation, item))
        return nextWrite()
    }

    private mutating func perform(_ item: Waiting) -> [Action] {
        switch item {
        case .done(let key): return [.done(key)]
        case .cleanUp(let service, let freed): return [.cleanUp(service, freed: freed), .done(service.key)]
        case .status(let update):
            statusQueue.append(update)
            return nextPatches()
        }
    }

    /// One write at a time, none while resting, none before the ledger is restored (`ConfigMapWritePipeline`).
    private mutating func nextWrite() -> [Action] {
        guard let freshRead = pipeline.nextWrite(generation: generation, waiting: !waiting.isEmpty) else { return [] }
        return [.writeConfigMap(freshRead: freshRead)]
    }

    /// A write that failed and is still owed is tried again after a backoff (`restEnded` then writes).
    private mutating func backOff() -> [Action] {
        pipeline.backOffAfterFailure().map { [.rest($0)] } ?? []
    }

    /// What the write just made true; then, if more waits, a rest as long as the write took.
    private mutating func released() -> [Action] {
        let written = pipeline.writtenGeneration
        let ready = waiting.filter { $0.generation <= written }
        waiting.removeAll { $0.generation <= written }
        var actions = ready.flatMap { perform($0.item) }
        if let rest = pipeline.restAfterWrite(generation: generation, waiting: !waiting.isEmpty) {
            actions.append(.rest(rest))
        }
        return actions
    }

    /// A burst of thousands of Services grows these to thousands of entries; emptied, they would keep that storage
    /// (Swift collections do not shrink), a few megabytes in all. Given back once empty.
    private mutating func releaseIdleStorage() {
        if superseded.isEmpty, superseded.capacity > Self.keptCapacity { superseded = [:] }
        if fresh.isEmpty, fresh.capacity > Self.keptCapacity { fresh = [] }
        if waiting.isEmpty, waiting.capacity > Self.keptCapacity { waiting = [] }
        if statusQueue.isEmpty, statusQueue.capacity > Self.keptCapacity { statusQueue = [] }
    }

    /// What an empty collection may keep: enough for everyday churn without reallocating.
    private static let keptCapacity = 256

    private mutating func nextPatches() -> [Action] {
        var actions: [Action] = []
        while statusesInFlight < statusWidth, statusHead < statusQueue.count {
            actions.append(.patchStatus(statusQueue[statusHead]))
            statusHead += 1
            statusesInFlight += 1
        }
        if statusHead == statusQueue.count {
            statusQueue.removeAll(keepingCapacity: true)
            statusHead = 0
        }
        return actions
    }
}
