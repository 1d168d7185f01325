import Foundation
import IPAM
import KubeClient
import Logging

extension ServiceController {
    /// The finalizer a VIPPool keeps while a Service holds one of its addresses.
    public static let poolFinalizer = "keepalived-lb.io/pool-in-use"

    /// Whether the VIPPool resource is installed (deploy/base/vippools.yaml); without it the
    /// controller serves from its `--cidr` pool alone, as before.
    func vipPoolsInstalled() async -> Bool {
        do {
            _ = try await client.list(VIPPool.self, options: ListOptions(limit: 1))
            return true
        } catch {
            logger.info(
                """
                VIPPool resource not installed; serving from the --cidr pool only (apply \
                deploy/base/vippools.yaml and restart to use named pools)
                """,
                metadata: ["error": "\(error.message)"])
            return false
        }
    }

    /// Rebuilds the catalog from the VIPPool objects; a change of pools re-files every held address
    /// (none moves), re-queues every Service and has the pools' status rewritten.
    func poolsChanged(requeue: Bool = true) async {
        guard let poolInformer else { return }
        let objects = await poolInformer.list()
        let fresh = PoolCatalog(flagPool: configuration.pool, objects: objects)
        for (name, problem) in fresh.problems where reportedProblems[name] != problem {
            logger.warning("VIPPool not used", metadata: ["pool": "\(name)", "reason": "\(problem.reason)"])
            if let object = objects.first(where: { $0.metadata.name == name }) {
                events.post(object.reference, type: .warning, reason: problem.reason, message: problem.message)
            }
        }
        reportedProblems = fresh.problems
        let change = machine.poolsChanged(fresh)
        if change.reconfigured {
            await writer.setPools(fresh.pools)
            await reportAddressesOutsidePools()
            logger.info("pools changed", metadata: ["pools": "\(fresh.usable.map(\.name).joined(separator: ","))"])
        }
        if requeue && (change.reconfigured || change.terminatingChanged) {
            for service in await informer.list() where isManaged(service) { await queue.add(service.key) }
        }
        poolStatusQueue.yield()
    }

    /// A namespace's labels decide which pools its Services may use: they are looked at again.
    func namespaceLabelsChanged(_ namespace: String) async {
        guard catalog.selectsByLabels else { return }
        for service in await informer.list() where service.metadata.namespace == namespace && isManaged(service) {
            await queue.add(service.key)
        }
    }

    func namespaceLabels(_ namespace: String) async -> [String: String] {
        await namespaceInformer?.get(ObjectKey(namespace: nil, name: namespace))?.metadata.labels ?? [:]
    }

    /// A Service keeps an address its pool no longer contains: it goes on being served, and says so.
    func reportAddressesOutsidePools() async {
        for (key, address) in ledger.outsidePools {
            logger.warning(
                "a Service holds an address outside every pool; it keeps it",
                metadata: ["service": "\(key)", "address": "\(address)"])
            guard let reference = await informer.get(key)?.reference else { continue }
            events.post(
                reference, type: .warning, reason: "AddressOutsidePools",
                message: "\(address) is in no pool any more (its pool was edited or deleted); the Service keeps it. "
                    + "Add it back to a pool, or remove the Service's address to get a new one")
        }
    }

    /// Writes every VIPPool's status (size, used, free per family, the Services holding it, Ready and
    /// Conflict conditions) where it changed, and keeps the in-use finalizer in step.
    func writePoolStatuses() async {
        guard let poolInformer else { return }
        for object in await poolInformer.list() {
            guard let name = object.metadata.name else { continue }
            let status = poolStatus(for: object, named: name)
            // By uid: a pool deleted and created again under its name is a new object to write.
            let identity = object.metadata.uid ?? name
            if lastPoolStatus[identity] != status {
                var updated = object
                updated.json["status"] = .object(status)
                do {
                    _ = try await client.updateStatus(updated)
                    lastPoolStatus[identity] = status
                } catch {
                    // A conflict: the informer's next event brings the new version and another write.
                    if error.code != .conflict {
                        logger.warning(
                            "could not write VIPPool status",
                            metadata: ["pool": "\(name)", "error": "\(error.message)"])
                    }
                }
            }
            let used: Int64 = if case .int(let count)? = status["used"] { count } else { 0 }
            await keepFinalizer(object, inUse: used > 0)
        }
    }

    private func keepFinalizer(_ object: VIPPool, inUse: Bool) async {
        let has = object.metadata.finalizers.contains(Self.poolFinalizer)
        guard has != inUse, let name = object.metadata.name else { return }
        let finalizers =
            inUse
            ? object.metadata.finalizers + [Self.poolFinalizer]
            : object.metadata.finalizers.filter { $0 != Self.poolFinalizer }
        do {
            _ = try await client.patch(
                VIPPool.self, name: name, .finalizers(finalizers, resourceVersion: object.metadata.resourceVersion))
        } catch {
            if error.code != .conflict && error.code != .notFound {
                logger.warning(
                    "could not update the VIPPool finalizer",
                    metadata: ["pool": "\(name)", "error": "\(error.message)"])
            }
        }
    }

    func poolStatus(for object: VIPPool, named name: String) -> JSONObject {
        var status: JSONObject = ["addresses": .string(object.spec.addresses.joined(separator: ","))]
        func condition(_ type: String, _ value: Bool, _ reason: String, _ message: String) -> JSONValue {
            .object(
                Condition(
                    type: type, status: value ? .true : .false, reason: reason, message: message,
                    after: object.status.conditions.first { $0.type == type },
                    observedGeneration: object.metadata.generation
                ).json)
        }
        if let problem = reportedProblems[name] {
            status["used"] = .int(0)
            status["conditions"] = .array([
                condition("Ready", false, problem.reason, problem.message),
                condition(
                    "Conflict", problem.conflictsWith != nil, problem.conflictsWith == nil ? "NoConflict" : "Overlap",
                    problem.conflictsWith.map { "overlaps pool \($0)" } ?? "no overlap"),
            ])
            return status
        }
        guard let definition = catalog.definition(named: name) else { return status }
        var size = AddressCount.zero
        var free = AddressCount.zero
        var used = 0
        var families: [JSONValue] = []
        for family in definition.pool.families {
            guard let usage = ledger.usage(pool: name, family) else { continue }
            size = size + usage.size
            free = free + usage.free
            used += usage.used
            families.append(
                .object([
                    "family": .string(family.rawValue), "size": .string(usage.size.description),
                    "used": .int(Int64(usage.used)), "free": .string(usage.free.description),
                ]))
        }
        let holders = ledger.records.filter { $0.value.addresses.contains { definition.pool.contains($0) } }.keys
            .sorted()
        status["size"] = .string(size.description)
        status["used"] = .int(Int64(used))
        status["free"] = .string(free.description)
        status["families"] = .array(families)
        status["services"] = .array(holders.prefix(100).map { .string($0.description) })
        status["observedGeneration"] = .int(Int64(object.metadata.generation ?? 0))
        let eligible = nodePlacement.nodes(of: definition).count
        status["eligibleNodes"] = .int(Int64(eligible))
        status["conditions"] = .array([
            condition(
                "Ready", !definition.terminating, definition.terminating ? "Terminating" : "Ready",
                definition.terminating
                    ? "being deleted; kept while \(used) address(es) are in use" : "addresses are handed out"),
            condition("Conflict", false, "NoConflict", "no overlap with another pool"),
            eligible > 0
                ? condition("NodesEligible", true, "NodesEligible", "\(eligible) node(s) may hold its addresses")
                : condition("NodesEligible", false, "NoEligibleNode", Self.noEligibleNodeHint),
        ])
        return status
    }
}
