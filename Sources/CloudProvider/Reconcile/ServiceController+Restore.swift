import IPAM
import Keepalived
import KubeClient
import Logging

extension ServiceController {
    /// The VIP ConfigMap, or nil when it does not exist yet.
    func existingConfigMap() async throws(KubeError) -> ConfigMap? {
        do {
            return try await client.get(
                ConfigMap.self, namespace: configuration.namespace, name: configuration.configMapName)
        } catch {
            if error.code == .notFound { return nil }
            throw error
        }
    }

    /// Rebuilds the ledger before anything new is allocated, from Service statuses, the VIP
    /// ConfigMap and the predecessor's ledger annotation, oldest Service first.
    func restore() async throws {
        // From the informer's first list: a second full list would double the start-up memory.
        let services = await informer.list().filter(isManaged)
            .sorted { ($0.metadata.creationTimestamp ?? "", $0.key) < ($1.metadata.creationTimestamp ?? "", $1.key) }
        var fromConfigMap: [ObjectKey: [VIPEntry]] = [:]
        var legacy: [ObjectKey: [LegacyLedger.Record]] = [:]
        if let configMap = try await existingConfigMap() {
            // Local VIPs stay in the groups the previous leader put them in.
            nodePlacement.restrictedGroups =
                configMap.data[VRRPPlan.dataKey].flatMap { try? VRRPPlan(json: $0) }?.restrictedGroups ?? [:]
            let decoded = VIPConfigMapFormat.decode(configMap.data.filter { (try? IPAddress($0.key)) != nil })
            for entry in decoded.entries {
                fromConfigMap[ObjectKey(namespace: entry.namespace, name: entry.name), default: []].append(entry)
            }
            for problem in decoded.invalid {
                logger.warning("ignoring an unreadable VIP ConfigMap entry", metadata: ["entry": "\(problem)"])
            }
            if let json = configMap.metadata.annotations[LegacyLedger.annotation] {
                do {
                    for record in try LegacyLedger(json: json).records {
                        legacy[ObjectKey(namespace: record.serviceNamespace, name: record.serviceName), default: []]
                            .append(record)
                    }
                } catch {
                    logger.warning("ignoring the unreadable ledger annotation", metadata: ["error": "\(error)"])
                }
            }
        } else {
            logger.info(
                "VIP ConfigMap does not exist yet; it will be created",
                metadata: ["configmap": "\(configuration.namespace)/\(configuration.configMapName)"])
        }

        // What is being served wins: an address in both a Service's status and the ConfigMap
        // (the agents announce it, clients use it) beats one in the status alone, then one in the
        // ConfigMap alone, then the predecessor's ledger. Within a tier the oldest Service wins;
        // creation times have one-second resolution, so ties go to namespace/name order.
        var ranked: [(source: RestoreSource, order: Int, claim: Ledger.Claim)] = []
        for (order, service) in services.enumerated() {
            let key = service.key
            let uid = service.metadata.uid ?? ""
            var method: ForwardMethod? = nil
            for record in legacy[key] ?? [] where record.uid.isEmpty || record.uid == uid {
                method = record.forwardMethod.flatMap { ForwardMethod(rawValue: $0) }
            }
            let data = fromConfigMap[key] ?? []
            let sharingKey = service.metadata.annotations[Sharing.annotation].flatMap {
                Sharing.validate($0) ? $0 : nil
            }
            let ports = PortKey.of(service)
            let status = service.status.loadBalancer.ingress.compactMap { $0.ip.flatMap { try? IPAddress($0) } }
            for address in status {
                let entry = data.first { $0.address == address }
                ranked.append(
                    (
                        entry == nil ? .status : .served, order,
                        .init(
                            key: key, uid: uid, address: address, forwardMethod: entry?.forwardMethod ?? method,
                            keepOutsidePools: true, sharingKey: sharingKey, ports: ports)
                    ))
            }
            for entry in data where !status.contains(entry.address) {
                ranked.append(
                    (
                        .configMap, order,
                        .init(
                            key: key, uid: uid, address: entry.address, forwardMethod: entry.forwardMethod ?? method,
                            sharingKey: sharingKey, ports: ports)
                    ))
            }
            for record in legacy[key] ?? [] where record.uid.isEmpty || record.uid == uid {
                if let address = try? IPAddress(record.ip) {
                    let recorded = record.forwardMethod.flatMap { ForwardMethod(rawValue: $0) }
                    ranked.append(
                        (.legacyLedger, order, .init(key: key, uid: uid, address: address, forwardMethod: recorded)))
                }
            }
        }
        ranked.sort { ($0.source, $0.order) < ($1.source, $1.order) }
        let report = machine.claimsFound(ranked.map(\.claim))
        let byKey = Dictionary(services.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        for (claim, holder) in report.conflicts {
            guard let service = byKey[claim.key] else { continue }
            let lost =
                ranked.first { $0.claim.key == claim.key && $0.claim.address == claim.address }?.source ?? .legacyLedger
            let won = ranked.first { $0.claim.key == holder && $0.claim.address == claim.address }?.source ?? .served
            let message = Self.conflictMessage(
                address: claim.address, claimant: service, claimSource: lost, holder: byKey[holder], holderKey: holder,
                holderSource: won)
            events.post(service.reference, type: .warning, reason: "IPConflict", message: message)
        }
        for claim in report.outsidePool where !claim.keepOutsidePools {
            logger.info(
                "not restoring an address outside the pools",
                metadata: ["service": "\(claim.key)", "address": "\(claim.address)"])
        }
        await reportAddressesOutsidePools()
        logger.info(
            "ledger restored",
            metadata: ["services": "\(ledger.records.count)", "conflicts": "\(report.conflicts.count)"])
    }

    /// Says why the other Service keeps the address, in the terms of the ranking in `restore()`.
    static func conflictMessage(
        address: IPAddress, claimant: Service, claimSource: RestoreSource, holder: Service?, holderKey: ObjectKey,
        holderSource: RestoreSource
    ) -> String {
        let why: String
        if holderSource < claimSource {
            why =
                "Service \(holderKey) keeps it: it is found in \(holderSource), this Service's claim only in "
                + "\(claimSource)"
        } else {
            let mine = claimant.metadata.creationTimestamp ?? ""
            let theirs = holder?.metadata.creationTimestamp ?? ""
            if theirs < mine {
                why = "the older Service \(holderKey) (created \(theirs)) keeps it"
            } else {
                why =
                    "Service \(holderKey), created in the same second (\(theirs)), keeps it: ties go to the "
                    + "namespace/name that sorts first"
            }
        }
        return "\(address) is also claimed by Service \(holderKey); \(why). This Service gets a new address"
    }
}

/// Where an address a Service held before a restart was found, strongest first.
enum RestoreSource: Int, Comparable, CustomStringConvertible {
    case served
    case status
    case configMap
    case legacyLedger

    static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    var description: String {
        switch self {
        case .served: "its status and the VIP ConfigMap (it is being served)"
        case .status: "its status"
        case .configMap: "the VIP ConfigMap"
        case .legacyLedger: "the predecessor's ledger annotation"
        }
    }
}
