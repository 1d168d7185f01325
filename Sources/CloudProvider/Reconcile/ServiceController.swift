import CoreMetrics
import Foundation
public import IPAM
import Keepalived
public import KubeClient
public import Logging
import Metrics

/// Gives LoadBalancer Services addresses from the pool, keeps the VIP ConfigMap in step and
/// reports through status, conditions and events. One instance runs in the elected leader.
public actor ServiceController {
    let client: any KubernetesAPI
    /// With leader election: reconciles only while holding the lease.
    let elector: LeaderElector?
    let configuration: ControllerConfiguration
    let logger: Logger
    let events: EventRecorder
    let queue: WorkQueue<ObjectKey>
    /// Times the rests between ConfigMap writes, the pool-status coalescing and the split-brain window.
    let clock: any Clock<Duration>
    /// Time since start on `clock`: the split-brain window is measured on the clock its re-checks sleep on.
    let elapsed: @Sendable () -> Duration
    /// Every decision: the ledger, the pools, the nodes, what waits for which ConfigMap write.
    var machine: ServiceStateMachine
    /// Counts what the machine has outstanding; events give way while it is non-zero.
    let busy = BusySignal()
    /// Jobs the machine asked for (ConfigMap writes, rests, status patches), run as child tasks of `run()`.
    let jobs: AsyncStream<Job>
    let jobQueue: AsyncStream<Job>.Continuation
    let writer: ConfigMapWriter
    let informer: Informer<Service>
    let nodeInformer: Informer<Node>
    let metrics: ControllerMetrics
    var poolInformer: Informer<VIPPool>?
    /// Namespace labels, for VIPPools that choose namespaces by selector (with the VIPPool resource only).
    var namespaceInformer: Informer<Namespace>?
    /// Problems of VIPPools already logged and posted (each once, until it changes).
    var reportedProblems: [String: PoolCatalog.Problem] = [:]
    /// The status last written per VIPPool: unchanged ones are not written again.
    var lastPoolStatus: [String: JSONObject] = [:]
    let poolStatusRequests: AsyncStream<Void>
    let poolStatusQueue: AsyncStream<Void>.Continuation
    var splitBrain: SplitBrainDetector
    let splitBrainChecks: AsyncStream<Duration>
    let splitBrainCheckQueue: AsyncStream<Duration>.Continuation
    /// Nodes serving each Local Service, from the slice informer (nil: EndpointSlices cannot be read).
    var localEndpoints = LocalEndpoints()
    var slices: SliceInformer?
    var slicesSynced = false
    var servicesSynced = false
    /// Services that turned Local while the slices' list was being delivered: listed from the API once it is.
    var fillOnceListed: Set<ObjectKey> = []
    /// Which nodes may hold which VIP: the eligible nodes, pools' nodes, Local endpoints' nodes, group leaders.
    var nodePlacement: NodePlacement
    /// Eligible nodes per pool at the last report: a pool that drops to none is told once.
    var lastEligibleCounts: [String: Int] = [:]
    /// Nodes left out only by the exclude label while none is eligible (said once per change).
    var excludedEverywhere = 0
    /// Services told no node may announce their address, and why (each once, until it changes).
    var placementProblems: [ObjectKey: PlacementProblem] = [:]
    /// BGPPeers' status from the agents' Node annotations: its own informers and loop, run while leading.
    let bgpPeerStatus: BGPPeerStatusReporter
    public var isReady: Bool { machine.isReady }
    /// The ledger and the catalog live in the machine, which alone changes them; the actor reads them.
    var ledger: Ledger { machine.ledger }
    var catalog: PoolCatalog { machine.catalog }
    /// What reconciling reads of a Service, and nothing else: the informer caches thousands of these. Each
    /// list sits beside the code that reads it (a field read but not kept would silently read nil; a test
    /// checks that the trimmed Service decides exactly as the whole one).
    static func trimmedForCache(_ service: Service) -> Service {
        let specFields = ControllerConfiguration.servedSpecFields.union(LoadBalancerRequest.specFields)
            .union(placementSpecFields)
        return service.keeping(
            // Ports: what the agents let through to the VIP (`VIPFirewall`), and what sharers must not both use.
            specFields: specFields.union(LoadBalancerRequest.sharingSpecFields),
            annotations: LoadBalancerRequest.annotations.union([VIPPool.serviceAnnotation]))
    }

    public init(
        client: any KubernetesAPI, configuration: ControllerConfiguration, elector: LeaderElector? = nil,
        clock: any Clock<Duration> = ContinuousClock(), logger: Logger = Logger(label: "service-controller")
    ) {
        self.clock = clock
        elapsed = stopwatch(on: clock)
        queue = WorkQueue(clock: clock)
        self.client = client
        self.elector = elector
        self.configuration = configuration
        self.logger = logger
        machine = ServiceStateMachine(configuration: configuration)
        nodePlacement = NodePlacement(honorsExcludeLabel: configuration.honorsExcludeLabel)
        (jobs, jobQueue) = AsyncStream.makeStream()
        writer = ConfigMapWriter(
            client: client, namespace: configuration.namespace, name: configuration.configMapName,
            pools: [configuration.pool], limit: configuration.configMapLimit, logger: logger)
        // Events give way to status writes while a burst is being published.
        events = EventRecorder(
            client: client, component: "keepalived-cloud-provider", yieldingTo: busy, clock: clock, logger: logger)
        // Only what reconciling reads is cached, packed: memory stays small with many Services.
        informer = Informer<Service>(
            client: client, namespace: configuration.serviceNamespace, logger: logger, storage: .packed,
            transform: ServiceController.trimmedForCache, clock: clock)
        metrics = ControllerMetrics()
        nodeInformer = Informer<Node>(
            client: client, labelSelector: configuration.nodeSelector, logger: logger, clock: clock)
        bgpPeerStatus = BGPPeerStatusReporter(client: client, events: events, clock: clock, logger: logger)
        (poolStatusRequests, poolStatusQueue) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        splitBrain = SplitBrainDetector(window: configuration.splitBrainWindow)
        (splitBrainChecks, splitBrainCheckQueue) = AsyncStream.makeStream()
    }

    /// Restores the ledger from cluster state, then reconciles until cancelled. Everything it runs (the
    /// informers, the work queue's timers, the event writer, the machine's jobs, the workers) is a child
    /// task of one group, ended together.
    func reconcileWhileRunning() async throws {
        // Our own ConfigMap: an edit or deletion by someone else is put right at once, not at the
        // next Service change. Only metadata is cached; the data is ours to compute.
        let ownConfigMap = Informer<ConfigMap>(
            client: client, namespace: configuration.namespace,
            fieldSelector: "metadata.name=\(configuration.configMapName)",
            logger: logger, transform: { $0.keepingMetadataOnly() }, clock: clock)
        // Each informer whose first list the plan depends on says so here once.
        let (synced, syncedQueue) = AsyncStream.makeStream(of: Void.self)
        // The slices are listed once the Services are: their events then find every Local Service known, and
        // the slice informer needs to keep no more than versions.
        let (servicesListed, servicesListedSignal) = AsyncStream.makeStream(of: Void.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.queue.run() }
            group.addTask { await self.events.run() }
            group.addTask {
                await self.nodeInformer.run { event in
                    if case .synced = event { syncedQueue.yield() }
                    await self.nodesChanged()
                    await self.checkSplitBrain()
                }
            }
            group.addTask {
                await ownConfigMap.run { event in
                    switch event {
                    case .added(let object), .updated(_, let object):
                        await self.handle(.configMapSeen(version: object.metadata.resourceVersion))
                    case .deleted: await self.handle(.configMapSeen(version: nil))
                    case .synced: return
                    }
                }
            }
            // Keys queue up from the first list on (the Service and Node lists run side by side);
            // workers start once the ledger is restored.
            group.addTask {
                await self.informer.run { event in
                    switch event {
                    case .added(let s):
                        await self.queue.add(s.key)
                        await self.serviceSeen(s, deleted: false)
                    case .deleted(let s):
                        await self.queue.add(s.key)
                        await self.serviceSeen(s, deleted: true)
                    case .updated(_, let s):
                        await self.queue.add(s.key)
                        await self.serviceSeen(s, deleted: false)
                    case .synced:
                        await self.servicesListed()
                        servicesListedSignal.finish()
                        syncedQueue.yield()
                    }
                }
            }
            var awaitedLists = 2
            // Local Services' VIPs are placed from the first plan on: no write before the slices are listed.
            if let slices = await endpointSliceInformer() {
                self.slices = slices
                awaitedLists += 1
                group.addTask {
                    for await _ in servicesListed {}
                    await self.watch(slices) { syncedQueue.yield() }
                }
            }
            if configuration.initializeNodes {
                group.addTask { await self.initializeNodes() }
            }
            if await bgpPeerStatus.installed() {
                group.addTask { await self.bgpPeerStatus.run() }
            }
            if await vipPoolsInstalled() {
                let pools = Informer<VIPPool>(client: client, logger: logger, clock: clock)
                poolInformer = pools
                awaitedLists += 1
                group.addTask {
                    await pools.run { event in
                        if case .synced = event { syncedQueue.yield() }
                        await self.poolsChanged()
                    }
                }
                if let namespaces = await namespaceInformerIfReadable() {
                    namespaceInformer = namespaces
                    awaitedLists += 1
                    group.addTask {
                        await namespaces.run { event in
                            if case .synced = event { syncedQueue.yield() }
                            guard case .updated(let old, let new) = event, old.metadata.labels != new.metadata.labels
                            else { return }
                            await self.namespaceLabelsChanged(new.metadata.name ?? "")
                        }
                    }
                }
                group.addTask {
                    // Coalesced: a burst of Services rewrites each pool's status once.
                    for await _ in self.poolStatusRequests {
                        try? await self.clock.sleep(for: .milliseconds(300))
                        await self.writePoolStatuses()
                    }
                }
            }
            group.addTask {
                // A split brain that outlasts the window is reported even if no node changes again.
                for await delay in self.splitBrainChecks {
                    try? await self.clock.sleep(for: delay)
                    await self.checkSplitBrain()
                }
            }
            group.addTask {
                await withDiscardingTaskGroup { jobs in
                    for await job in self.jobs { jobs.addTask { await self.perform(job) } }
                }
            }
            do {
                // A plan written before the node list is known would name no node and empty every agent.
                var lists = synced.makeAsyncIterator()
                for _ in 0..<awaitedLists {
                    guard await lists.next() != nil else { throw CancellationError() }
                }
                await nodesChanged()
                await poolsChanged(requeue: false)
                try await restore()
                try await writeConfigMap(freshRead: false)
                await handle(.restored)
            } catch {
                stopHelpers()
                group.cancelAll()
                throw error
            }
            for _ in 0..<max(configuration.workers, 1) {
                group.addTask { await self.worker() }
            }
            await withTaskCancellationHandler {
                try? await group.waitForAll()
            } onCancel: {
                self.stopHelpers()
            }
        }
    }

    /// Ends the loops that wait on streams rather than on cancellation.
    private nonisolated func stopHelpers() {
        jobQueue.finish()
        splitBrainCheckQueue.finish()
        poolStatusQueue.finish()
    }

    /// Namespace labels, for VIPPool selectors. Without the right to read Namespaces (RBAC older than the
    /// selector), selectors match nothing rather than the controller waiting for a list it may never get.
    private func namespaceInformerIfReadable() async -> Informer<Namespace>? {
        do {
            _ = try await client.list(Namespace.self, options: ListOptions(limit: 1))
        } catch {
            logger.warning(
                "cannot list Namespaces; VIPPool namespace selectors will match no namespace",
                metadata: ["error": "\(error)"])
            return nil
        }
        return Informer<Namespace>(
            client: client, logger: logger,
            transform: { namespace in
                var kept = namespace.keepingMetadataOnly()
                kept.metadata.labels = namespace.metadata.labels
                return kept
            }, clock: clock)
    }

    private func worker() async {
        while let key = await queue.next() {
            let started = elapsed()
            // A key stays "processing" until the machine says it is done (its status written, say).
            await reconcile(key)
            metrics.reconcileDuration.record(duration: elapsed() - started)
            metrics.queueDepth.record(await queue.depth)
            recordUsage()
            if poolInformer != nil { poolStatusQueue.yield() }
        }
    }

    func recordUsage() {
        var usage: [(pool: String, family: IPFamily, usage: Usage)] = []
        for definition in catalog.usable {
            for family in definition.pool.families {
                guard let used = ledger.usage(pool: definition.name, family) else { continue }
                usage.append((definition.name, family, used))
            }
        }
        metrics.record(usage: usage)
    }

    /// The ConfigMap as the machine's ledger and nodes are now.
    func snapshot() -> ConfigMapSnapshot {
        let entries = ledger.entries
        let plan: VRRPPlan?
        do {
            let addresses = entries.map(\.address)
            let placed = try configuration.planner.plan(
                addresses: addresses, nodes: machine.eligibleNodes, placement: placement(of: addresses),
                ports: publishedPorts(), interfaces: poolInterfaces(of: addresses), routed: routedAddresses(addresses))
            plan = placed.plan
            nodePlacement.planned(placed.plan, unplaced: placed.unplaced)
        } catch {
            // Unreachable with validated node names; keep the last plan rather than write a wrong one.
            logger.error("could not build the VRRP plan; keeping the previous one", metadata: ["error": "\(error)"])
            plan = nil
        }
        return ConfigMapSnapshot(
            generation: machine.generation, entries: entries, ledger: ledger.legacyLedger, plan: plan)
    }

    /// A reconcile or its status write failed: logged, told to the Service's owner as upstream's
    /// service controller does (a Warning `SyncLoadBalancerFailed`, aggregated while it repeats),
    /// and retried with backoff. Allocation failures already have their own event.
    func failed(_ key: ObjectKey, _ error: any Error) async {
        metrics.reconcileErrors.increment()
        logger.warning("reconcile failed; will retry", metadata: ["service": "\(key)", "error": "\(error)"])
        if !(error is IPAMError), let service = await informer.get(key) {
            let reason = (error as? KubeError)?.message ?? "\(error)"
            events.post(
                service.reference, type: .warning, reason: "SyncLoadBalancerFailed",
                message: "Error syncing load balancer (will retry): \(reason.prefix(900))")
        }
        await queue.retry(key)
    }

    /// Recomputes the eligible nodes (`NodePlacement.nodesSeen`); a change rewrites the plan.
    func nodesChanged() async {
        let selectsNodes = catalog.selectsNodes
        let seen = nodePlacement.nodesSeen(await nodeInformer.list())
        for (name, error) in seen.rejected {
            logger.warning(
                "node left out of the VRRP plan", metadata: ["node": "\(name.prefix(64))", "error": "\(error)"])
        }
        let names = seen.eligible
        if names.isEmpty, seen.excluded > 0, excludedEverywhere != seen.excluded {
            logger.warning(
                "every node is labelled \(ControllerConfiguration.excludeLabel): no node may hold a VIP",
                metadata: ["nodes": "\(seen.excluded)", "fix": "--ignore-exclude-label, or label fewer nodes"])
        }
        excludedEverywhere = names.isEmpty ? seen.excluded : 0
        let samePlanNodes = names == machine.eligibleNodes
        if seen.mastersChanged, !localEndpoints.isEmpty { await handle(.placementChanged) }
        if seen.poolViewChanged, selectsNodes, samePlanNodes { await handle(.placementChanged) }
        guard !samePlanNodes else { return }
        logger.info("eligible nodes changed", metadata: ["nodes": "\(names.joined(separator: ","))"])
        await handle(.nodesChanged(names))
    }

    func isManaged(_ service: Service) -> Bool { configuration.serves(service) }

    /// Usage of the pool, per family, for metrics and tests.
    public func usage(_ family: IPFamily) -> Usage { ledger.allocator.usage(family) }
    public func addresses(of key: ObjectKey) -> [IPAddress] { ledger.records[key]?.addresses ?? [] }
    public var configMapWrites: Int { get async { await writer.writes } }
    /// Status patches that announced addresses (tests check that nothing is written twice).
    public internal(set) var statusWrites = 0
    /// Finalizer PATCHes of their own (the finalizer usually goes on with the first status).
    public internal(set) var finalizerWrites = 0
}
