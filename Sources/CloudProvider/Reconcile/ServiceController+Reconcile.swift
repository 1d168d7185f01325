import CoreMetrics
import Foundation
import IPAM
import Keepalived
import KubeClient

/// A status on its way to a Service, and what the publisher needs to say so.
struct StatusUpdate: Sendable {
    let reference: ObjectReference
    let status: ServiceStatus
    let addresses: [String]
    /// Versions of the Service that predate this status (see `ServiceController.superseded`).
    let olderVersions: [String]
}

enum ReconcileOutcome {
    case finished
    /// The publisher owns the key until its status is written.
    case handedOff
}

extension ServiceController {
    /// The Service's request and the pools it may get new addresses from (see `PoolCatalog`): the
    /// request's families are what those pools offer, so PreferDualStack gets one family when only
    /// one is on offer and RequireDualStack is refused naming the missing one.
    func choosePools(for service: Service, labels: [String: String]) throws -> (
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

    /// Brings one Service to its desired state. Throws to be retried with backoff.
    func reconcile(_ key: ObjectKey) async throws -> ReconcileOutcome {
        let finalizer = ControllerConfiguration.finalizer
        guard var service = await informer.get(key) else {
            superseded[key] = nil
            try await release(key)
            return .finished
        }
        if let older = superseded[key] {
            if let version = service.metadata.resourceVersion, older.contains(version) { return .finished }
            superseded[key] = nil
        }
        var seenVersions = [service.metadata.resourceVersion ?? ""]
        let managed = isManaged(service)
        let hasFinalizer = service.metadata.finalizers.contains(finalizer)
        if !managed || service.metadata.deletionTimestamp != nil {
            guard hasFinalizer || ledger.records[key] != nil else { return .finished }
            try await cleanUp(service, managed: managed)
            return .finished
        }

        if !hasFinalizer {
            // The finalizer goes on before an address is handed out, so a deletion while we are
            // down still comes back to us and the address is freed.
            service = try await client.patch(
                Service.self, namespace: service.metadata.namespace, name: service.metadata.name ?? "",
                .finalizers(
                    service.metadata.finalizers + [finalizer], resourceVersion: service.metadata.resourceVersion))
            seenVersions.append(service.metadata.resourceVersion ?? "")
        }

        let request: LoadBalancerRequest
        let candidates: [PoolCatalog.Definition]
        do {
            let labels = catalog.selectsByLabels ? await namespaceLabels(service.metadata.namespace ?? "") : [:]
            (request, candidates) = try choosePools(for: service, labels: labels)
        } catch let refusal as ServiceRefusal {
            try await refuse(service, refusal)
            return .finished
        }

        let across = catalog.sharingAcross
        if let refusal = ledger.sharingPreflight(key, request: request, across: across) {
            try await refuse(service, refusal)
            return .finished
        }

        let isNew = ledger.records[key] == nil
        if isNew && service.status.loadBalancer.ingress.isEmpty {
            events.post(
                service.reference, type: .normal, reason: "EnsuringLoadBalancer", message: "Ensuring load balancer")
        }
        let addresses: [IPAddress]
        let held = ledger.records[key]?.addresses ?? []
        do throws(IPAMError) {
            addresses = try ledger.ensure(
                key, uid: service.metadata.uid ?? "", request: request, candidates: candidates.map(\.name),
                across: across)
            metrics.allocations.increment(by: Set(addresses).subtracting(held).count)
        } catch {
            metrics.allocationFailure(reason: "\(error.code)")
            events.post(service.reference, type: .warning, reason: "AllocationFailed", message: error.message)
            try await setCondition(service, ok: false, reason: "AllocationFailed", message: error.message)
            if error.code == .poolExhausted { throw error }
            return .finished
        }

        let desired = addresses.map(\.description)
        let current = service.status.loadBalancer.ingress.compactMap(\.ip)
        let outside = addresses.filter { ledger.pool(containing: $0) == nil }
        let poolCondition = Self.poolCondition(service, outside: outside)
        let poolConditionCurrent =
            service.status.conditions.first { $0.type == Self.inPoolConditionType }.map {
                $0.status == poolCondition?.status && $0.message == poolCondition?.message
            } ?? (poolCondition == nil)
        guard current != desired || !conditionIsTrue(service) || !poolConditionCurrent else {
            // Nothing to announce, but the ledger may have changed (a new forward method).
            try await flushConfigMap()
            return .finished
        }
        let pools = Set(addresses.map { ledger.pool(containing: $0) ?? "none (outside every pool)" }).sorted()
        let message = "Assigned \(desired.joined(separator: ", ")) from pool \(pools.joined(separator: ", "))"
        var status = service.status
        var loadBalancer = status.loadBalancer
        loadBalancer.ingress = addresses.map { LoadBalancerIngress(ip: $0.description, ipMode: .vip) }
        status.loadBalancer = loadBalancer
        status.conditions =
            mergedConditions(service, ok: true, reason: "Allocated", message: message).filter {
                $0.type != Self.inPoolConditionType
            } + (poolCondition.map { [$0] } ?? [])
        await publisher.submit(
            Publication(
                key: key, generation: generation,
                payload: StatusUpdate(
                    reference: service.reference, status: status, addresses: desired, olderVersions: seenVersions)))
        return .handedOff
    }

    /// Tells the Service's owner why it gets no address (a Warning and a False condition); nothing else changes.
    private func refuse(_ service: Service, _ refusal: ServiceRefusal) async throws {
        metrics.allocationFailure(reason: refusal.reason)
        events.post(service.reference, type: .warning, reason: refusal.reason, message: refusal.message)
        try await setCondition(service, ok: false, reason: refusal.reason, message: refusal.message)
    }

    /// Writes one status the publisher holds; the ConfigMap already carries its addresses.
    func announce(_ update: StatusUpdate) async throws {
        _ = try await client.patch(
            Service.self, namespace: update.reference.namespace, name: update.reference.name ?? "",
            .merge(["status": .object(update.status.json)]), subresource: "status")
        statusWrites += 1
        events.post(
            update.reference, type: .normal, reason: "EnsuredLoadBalancer",
            message: "Ensured load balancer: \(update.addresses.joined(separator: ", "))")
    }

    func flushConfigMap(upTo target: Int? = nil) async throws {
        guard let writer else { return }
        try await writer.flush(upTo: target ?? generation)
    }

    /// Frees the Service's addresses, clears what we wrote into its status, drops our finalizer.
    /// Lets go of what `key` holds. A shared address another Service still holds is not freed, but
    /// the ConfigMap changes all the same (the address now names that Service).
    @discardableResult
    private func release(_ key: ObjectKey) async throws -> [IPAddress] {
        let before = ledger.generation
        let freed = ledger.release(key)
        if !freed.isEmpty { metrics.releases.increment(by: freed.count) }
        if ledger.generation != before { try await flushConfigMap() }
        return freed
    }

    private func cleanUp(_ service: Service, managed: Bool) async throws {
        let key = service.key
        var service = service
        let freed = try await release(key)
        if service.metadata.deletionTimestamp == nil && !service.status.loadBalancer.ingress.isEmpty {
            // A merge patch removes a field only when it is set to null.
            let conditions = service.status.conditions.filter { $0.type != ControllerConfiguration.conditionType }
            service = try await client.patch(
                Service.self, namespace: service.metadata.namespace, name: service.metadata.name ?? "",
                .merge([
                    "status": [
                        "loadBalancer": ["ingress": nil],
                        "conditions": conditions.isEmpty ? nil : .array(conditions.map { .object($0.json) }),
                    ]
                ]),
                subresource: "status")
        }
        if service.metadata.finalizers.contains(ControllerConfiguration.finalizer) {
            let remaining = service.metadata.finalizers.filter { $0 != ControllerConfiguration.finalizer }
            _ = try await client.patch(
                Service.self, namespace: service.metadata.namespace, name: service.metadata.name ?? "",
                .finalizers(remaining, resourceVersion: service.metadata.resourceVersion))
        }
        if !freed.isEmpty {
            events.post(
                service.reference, type: .normal, reason: "DeletedLoadBalancer",
                message: "Released \(freed.map(\.description).joined(separator: ", "))")
        }
    }

    /// Set False while a Service holds an address outside every pool (its pool was edited or deleted),
    /// until an operator acts; absent otherwise.
    static let inPoolConditionType = "keepalived-lb.io/AddressInPool"

    static func poolCondition(_ service: Service, outside: [IPAddress]) -> Condition? {
        guard !outside.isEmpty else { return nil }
        return Condition(
            type: inPoolConditionType, status: .false, reason: "OutsidePools",
            message: "\(outside.map(\.description).joined(separator: ", ")) in no pool any more; the Service keeps "
                + "it. Add it back to a pool, or remove the Service's address to get a new one",
            after: service.status.conditions.first { $0.type == inPoolConditionType },
            observedGeneration: service.metadata.generation)
    }

    private func conditionIsTrue(_ service: Service) -> Bool {
        service.status.conditions.contains { $0.type == ControllerConfiguration.conditionType && $0.status == .true }
    }

    private func mergedConditions(_ service: Service, ok: Bool, reason: String, message: String) -> [Condition] {
        let others = service.status.conditions.filter { $0.type != ControllerConfiguration.conditionType }
        return others + [
            Condition(
                type: ControllerConfiguration.conditionType, status: ok ? .true : .false, reason: reason,
                message: message,
                after: service.status.conditions.first { $0.type == ControllerConfiguration.conditionType },
                observedGeneration: service.metadata.generation)
        ]
    }

    private func setCondition(_ service: Service, ok: Bool, reason: String, message: String) async throws {
        let existing = service.status.conditions.first { $0.type == ControllerConfiguration.conditionType }
        if existing?.status == (ok ? .true : .false) && existing?.reason == reason && existing?.message == message {
            return
        }
        _ = try await client.patch(
            Service.self, namespace: service.metadata.namespace, name: service.metadata.name ?? "",
            .merge([
                "status": [
                    "conditions": .array(
                        mergedConditions(service, ok: ok, reason: reason, message: message).map { .object($0.json) })
                ]
            ]),
            subresource: "status")
    }
}
