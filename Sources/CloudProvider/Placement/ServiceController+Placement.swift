import CoreMetrics
import IPAM
import Keepalived
import KubeClient
import Logging

extension ServiceController {
    /// The spec field placement reads, kept in the Service cache.
    static let placementSpecFields: Set<String> = ["externalTrafficPolicy"]

    /// `discovery.k8s.io/v1` (1.21+), else `v1beta1` (1.20); nil when neither can be listed, and Local Services
    /// are then placed like Cluster ones (said once, loudly).
    func endpointSliceInformer() async -> SliceInformer? {
        let options = ListOptions(limit: 1)
        do {
            _ = try await client.list(EndpointSlice.self, namespace: configuration.serviceNamespace, options: options)
            return .v1(
                Informer(
                    client: client, namespace: configuration.serviceNamespace, logger: logger, storage: .versions,
                    transform: LocalEndpoints.trimmed, clock: clock))
        } catch {
            logger.debug("EndpointSlices v1 not listable; trying v1beta1", metadata: ["error": "\(error)"])
        }
        do {
            _ = try await client.list(
                EndpointSliceV1Beta1.self, namespace: configuration.serviceNamespace, options: options)
            return .v1beta1(
                Informer(
                    client: client, namespace: configuration.serviceNamespace, logger: logger, storage: .versions,
                    transform: LocalEndpoints.trimmed, clock: clock))
        } catch {
            logger.error(
                "cannot list EndpointSlices: Local Services' VIPs may sit on nodes without an endpoint",
                metadata: [
                    "error": "\(error)",
                    "fix": "grant list and watch on endpointslices.discovery.k8s.io (deploy/base/rbac.yaml)",
                ])
            return nil
        }
    }

    func watch(_ slices: SliceInformer, synced: @escaping @Sendable () -> Void) async {
        switch slices {
        case .v1(let informer): await watch(informer, synced: synced)
        case .v1beta1(let informer): await watch(informer, synced: synced)
        }
    }

    private func watch<Slice: EndpointSliceObject>(_ informer: Informer<Slice>, synced: @escaping @Sendable () -> Void)
        async
    {
        await informer.run { event in
            switch event {
            case .added(let slice), .updated(_, let slice): await self.sliceSeen(slice.key, new: slice)
            case .deleted(let slice): await self.sliceSeen(slice.key, new: nil as Slice?)
            case .synced:
                await self.slicesListed()
                synced()
            }
        }
    }

    /// The slice's old side is not needed (the informer keeps only versions): `localEndpoints` knows its Service.
    private func sliceSeen<Slice: EndpointSliceObject>(_ key: ObjectKey, new: Slice?) async {
        let after = new.flatMap(LocalEndpoints.read)
        let changed = localEndpoints.sliceChanged(key, service: after?.service, nodes: after?.nodes)
        if changed, slicesSynced { await handle(.placementChanged) }
    }

    /// Keeps the set of Local Services; one that turns Local has its existing slices listed. The slices are
    /// listed after the Services (`ServiceController.run`), so until then their events fill Local ones in.
    func serviceSeen(_ service: Service, deleted: Bool) async {
        let isLocal = !deleted && configuration.serves(service) && service.spec.externalTrafficPolicy == "Local"
        guard localEndpoints.serviceChanged(service.key, isLocal: isLocal) else { return }
        if isLocal, servicesSynced {
            // While the slices' list is delivered, its events for this Service may have passed already.
            if slicesSynced {
                jobQueue.yield(.fillLocalEndpoints(service.key))
            } else {
                fillOnceListed.insert(service.key)
            }
        }
        await handle(.placementChanged)
    }

    /// Per VIP, every protocol/port pair of every Service holding it (the ledger keeps them; sharers publish them
    /// all). A record without ports (restored, not yet reconciled) leaves its VIP unfiltered, not closed.
    func publishedPorts() -> [IPAddress: [VIPPort]] {
        var result: [IPAddress: Set<VIPPort>] = [:]
        for record in ledger.records.values where !record.ports.isEmpty {
            let ports = record.ports.compactMap { key in
                VIPPort.Transport(rawValue: key.proto).flatMap { try? VIPPort($0, key.port) }
            }
            for address in record.addresses { result[address, default: []].formUnion(ports) }
        }
        return result.mapValues { $0.sorted() }
    }

    func servicesListed() async {
        servicesSynced = true
    }

    private func slicesListed() async {
        slicesSynced = true
        for key in fillOnceListed where localEndpoints.services.contains(key) {
            jobQueue.yield(.fillLocalEndpoints(key))
        }
        fillOnceListed = []
        await handle(.placementChanged)
    }

    /// The slices a Service that just turned Local already has, from the API; those the watch delivered meanwhile
    /// are newer and kept, and those it no longer has (deleted while the list was answered) stay gone: the
    /// informer caches every slice, so one it lacks is deleted or not delivered yet, and its watch event decides.
    func fillFromAPI(_ key: ObjectKey) async {
        guard let slices, key.namespace != nil else { return }
        let options = ListOptions(labelSelector: "\(EndpointSlice.serviceNameLabel)=\(key.name)")
        let found: [SliceInformer.Found]
        do {
            found = try await slices.list(client, namespace: key.namespace, options: options)
        } catch {
            logger.warning(
                "cannot list a Local Service's EndpointSlices; its watch events fill them in",
                metadata: ["service": "\(key)", "error": "\(error)"])
            return
        }
        var changed = false
        for slice in found where slice.service == key {
            guard await slices.contains(slice.slice) else { continue }
            changed = localEndpoints.sliceFound(slice.slice, service: key, nodes: slice.nodes) || changed
        }
        if changed { await handle(.placementChanged) }
    }

    /// The planner's input for `addresses` (see `NodePlacement.placement`).
    func placement(of addresses: [IPAddress]) -> Placement {
        nodePlacement.placement(of: addresses, ledger: ledger, catalog: catalog, local: localEndpoints)
    }

    /// Per VIP of a pool that names an interface, that interface.
    func poolInterfaces(of addresses: [IPAddress]) -> [IPAddress: String] {
        poolSetting(\.interface, of: addresses)
    }

    /// The addresses of BGP pools with their pool's route attributes.
    func routedAddresses(_ addresses: [IPAddress]) -> [IPAddress: VRRPPlanner.RouteAttributes] {
        poolSetting(\.routed, of: addresses)
    }

    /// Per address, the setting of the pool it is in, for the pools that have the setting.
    private func poolSetting<Value>(_ setting: KeyPath<PoolCatalog.Definition, Value?>, of addresses: [IPAddress])
        -> [IPAddress: Value]
    {
        let having = catalog.usable.filter { $0[keyPath: setting] != nil }
        guard !having.isEmpty else { return [:] }
        var result: [IPAddress: Value] = [:]
        for address in addresses {
            if let pool = having.first(where: { $0.pool.contains(address) }) {
                result[address] = pool[keyPath: setting]
            }
        }
        return result
    }

    /// A Warning on each Service that no node may serve, once per reason; the eligible-nodes gauge per pool and
    /// the unserved gauge.
    func reportPlacement() async {
        // Per pool: the gauge, and a Warning on a pool that just lost its last eligible node; its status
        // (NodesEligible) is rewritten below.
        let (eligibleByPool, problems) = nodePlacement.problems(
            ledger: ledger, catalog: catalog, local: localEndpoints)
        for pool in catalog.usable {
            let count = eligibleByPool[pool.name]?.count ?? 0
            defer { lastEligibleCounts[pool.name] = count }
            guard count == 0, lastEligibleCounts[pool.name] != 0, let reference = pool.reference else { continue }
            events.post(reference, type: .warning, reason: "NoEligibleNode", message: Self.noEligibleNodeHint)
        }
        metrics.eligibleNodes.replaceAll(
            Dictionary(uniqueKeysWithValues: eligibleByPool.map { ([$0.key], Double($0.value.count)) }))
        if poolInformer != nil { poolStatusQueue.yield() }
        Gauge(label: "keepalived_lb_services_unannounced").record(problems.count)
        for (key, problem) in problems where placementProblems[key] != problem {
            guard let service = await informer.get(key) else { continue }
            let condition = problem.condition
            logger.warning("Service not served", metadata: ["service": "\(key)", "reason": "\(condition.reason)"])
            events.post(service.reference, type: .warning, reason: condition.reason, message: condition.message)
        }
        for key in placementProblems.keys where problems[key] == nil {
            logger.info("Service served again", metadata: ["service": "\(key)"])
        }
        guard problems != placementProblems else { return }
        let changed = Set(problems.keys).union(placementProblems.keys).filter { problems[$0] != placementProblems[$0] }
        placementProblems = problems
        await handle(.placementReported(problems.mapValues(\.condition)))
        for key in changed { await queue.add(key) }
    }
}

extension ServiceController {
    /// What to check when no node may hold a pool's addresses.
    static let noEligibleNodeHint =
        "no node may hold its addresses: check the controller's --node-selector, the pool's spec.nodeSelector and "
        + "spec.interface (nodes whose agent reports it), and the label "
        + "node.kubernetes.io/exclude-from-external-load-balancers (--ignore-exclude-label on clusters where every "
        + "node carries it)"
}

extension PlacementProblem {
    /// The Warning's and the `Announced` condition's reason and message.
    var condition: ServiceStateMachine.Unannounced {
        switch self {
        case .noEligibleNode(let pool):
            .init(reason: "NoEligibleNode", message: "pool \(pool): \(ServiceController.noEligibleNodeHint)")
        case .noEndpoints:
            .init(
                reason: "LocalEndpointsUnserved",
                message: "externalTrafficPolicy is Local and no eligible node has a ready endpoint of this Service: no "
                    + "node announces its address until one does")
        case .noLeader(let nodes):
            .init(
                reason: "LocalEndpointsUnserved",
                message: "externalTrafficPolicy is Local and its endpoints' nodes "
                    + "(\(nodes.prefix(5).joined(separator: ", "))) lead no VRRP group: its address waits for one of "
                    + "them to lead one. Give --vrrp-groups at least the number of eligible nodes")
        }
    }
}
