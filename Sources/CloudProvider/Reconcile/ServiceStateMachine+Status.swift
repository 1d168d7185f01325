import IPAM
import KubeClient

/// A status on its way to a Service, and what is needed to say so.
struct StatusUpdate: Sendable {
    let reference: ObjectReference
    let status: ServiceStatus
    /// Versions of the Service that predate this status (see `ServiceStateMachine.superseded`).
    let olderVersions: [String]
    /// The Service's finalizers with ours added, set in the same write (guarded by `resourceVersion`);
    /// nil when ours is on already.
    var finalizers: [String]? = nil
    var resourceVersion: String? = nil

    var key: ObjectKey { ObjectKey(namespace: reference.namespace, name: reference.name ?? "") }
    var addresses: [String] { status.loadBalancer.ingress.compactMap(\.ip) }
}

extension ServiceStateMachine {
    /// Set False while a Service holds an address outside every pool (its pool was edited or deleted),
    /// until an operator acts; absent otherwise.
    static let inPoolConditionType = "keepalived-lb.io/AddressInPool"

    /// Set False while no node may hold the Service's address (its pool has no eligible node; Local without a
    /// serving endpoint; see `PlacementProblem`); absent otherwise.
    static let announcedConditionType = "keepalived-lb.io/Announced"

    /// Why no node announces a Service's address: the False `Announced` condition's reason and message.
    struct Unannounced: Hashable, Sendable {
        let reason: String
        let message: String
    }

    /// The status that announces `addresses`, or nil when the Service already says all of it.
    static func status(
        for service: Service, addresses: [IPAddress], ledger: Ledger, unannounced: Unannounced? = nil
    ) -> ServiceStatus? {
        let desired = addresses.map(\.description)
        let current = service.status.loadBalancer.ingress.compactMap(\.ip)
        let outside = addresses.filter { ledger.pool(containing: $0) == nil }
        let poolCondition = Self.poolCondition(service, outside: outside)
        let poolConditionCurrent =
            service.status.conditions.first { $0.type == Self.inPoolConditionType }.map {
                $0.status == poolCondition?.status && $0.message == poolCondition?.message
            } ?? (poolCondition == nil)
        let announcedCondition = unannounced.map {
            Condition(
                type: announcedConditionType, status: .false, reason: $0.reason, message: $0.message,
                after: service.status.conditions.first { $0.type == announcedConditionType },
                observedGeneration: service.metadata.generation)
        }
        let announcedCurrent =
            service.status.conditions.first { $0.type == Self.announcedConditionType }.map {
                $0.reason == announcedCondition?.reason && $0.message == announcedCondition?.message
            } ?? (announcedCondition == nil)
        let allocated = service.status.conditions.contains {
            $0.type == ControllerConfiguration.conditionType && $0.status == .true
        }
        guard current != desired || !allocated || !poolConditionCurrent || !announcedCurrent else { return nil }
        let pools = Set(addresses.map { ledger.pool(containing: $0) ?? "none (outside every pool)" }).sorted()
        let message = "Assigned \(desired.joined(separator: ", ")) from pool \(pools.joined(separator: ", "))"
        var status = service.status
        var loadBalancer = status.loadBalancer
        loadBalancer.ingress = addresses.map { LoadBalancerIngress(ip: $0.description, ipMode: .vip) }
        status.loadBalancer = loadBalancer
        status.conditions =
            mergedConditions(service, ok: true, reason: "Allocated", message: message).filter {
                $0.type != Self.inPoolConditionType && $0.type != Self.announcedConditionType
            } + (poolCondition.map { [$0] } ?? []) + (announcedCondition.map { [$0] } ?? [])
        return status
    }

    static func poolCondition(_ service: Service, outside: [IPAddress]) -> Condition? {
        guard !outside.isEmpty else { return nil }
        return Condition(
            type: inPoolConditionType, status: .false, reason: "OutsidePools",
            message: "\(outside.map(\.description).joined(separator: ", ")) in no pool any more; the Service keeps "
                + "it. Add it back to a pool, or remove the Service's address to get a new one",
            after: service.status.conditions.first { $0.type == inPoolConditionType },
            observedGeneration: service.metadata.generation)
    }

    /// The Service's conditions with ours set; every other controller's entry kept.
    static func mergedConditions(_ service: Service, ok: Bool, reason: String, message: String) -> [Condition] {
        let others = service.status.conditions.filter { $0.type != ControllerConfiguration.conditionType }
        return others + [
            Condition(
                type: ControllerConfiguration.conditionType, status: ok ? .true : .false, reason: reason,
                message: message,
                after: service.status.conditions.first { $0.type == ControllerConfiguration.conditionType },
                observedGeneration: service.metadata.generation)
        ]
    }
}
