import IPAM
import Keepalived
import KubeClient

extension ServiceController {
    /// The VIP ConfigMap, or nil when it does not exist yet.
    func existingConfigMap() async throws(KubeError) -> ConfigMap? {
        do {
            return try await client.get(ConfigMap.self, namespace: configuration.namespace, name: configuration.configMapName)
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
        var fromConfigMap: [String: [VIPEntry]] = [:]
        var legacy: [String: [LegacyLedger.Record]] = [:]
        if let configMap = try await existingConfigMap() {
            let decoded = VIPConfigMapFormat.decode(configMap.data.filter { (try? IPAddress($0.key)) != nil })
            for entry in decoded.entries { fromConfigMap[entry.serviceKey, default: []].append(entry) }
            for problem in decoded.invalid {
                logger.warning("ignoring an unreadable VIP ConfigMap entry", metadata: ["entry": "\(problem)"])
            }
            if let json = configMap.metadata.annotations[LegacyLedger.annotation] {
                do {
                    for record in try LegacyLedger(json: json).records {
                        legacy["\(record.serviceNamespace)/\(record.serviceName)", default: []].append(record)
                    }
                } catch {
                    logger.warning("ignoring the unreadable ledger annotation", metadata: ["error": "\(error)"])
                }
            }
        } else {
            logger.info("VIP ConfigMap does not exist yet; it will be created", metadata: ["configmap": "\(configuration.namespace)/\(configuration.configMapName)"])
        }

        var claims: [Ledger.Claim] = []
        for service in services {
            let key = service.key
            let uid = service.metadata.uid ?? ""
            var method: ForwardMethod? = nil
            for record in legacy[key] ?? [] where record.uid.isEmpty || record.uid == uid {
                method = record.forwardMethod.flatMap { ForwardMethod(rawValue: $0) }
                if let address = try? IPAddress(record.ip) { claims.append(.init(key: key, uid: uid, address: address, forwardMethod: method)) }
            }
            for entry in fromConfigMap[key] ?? [] {
                claims.append(.init(key: key, uid: uid, address: entry.address, forwardMethod: entry.forwardMethod ?? method))
            }
            for ingress in service.status.loadBalancer.ingress {
                if let ip = ingress.ip, let address = try? IPAddress(ip) {
                    claims.append(.init(key: key, uid: uid, address: address, forwardMethod: method))
                }
            }
        }
        let report = ledger.restore(claims)
        let byKey = Dictionary(services.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        for (claim, holder) in report.conflicts {
            guard let service = byKey[claim.key] else { continue }
            events.post(service.reference, type: .warning, reason: "IPConflict",
                                message: "\(claim.address) is also claimed by the older Service \(holder), which keeps it; this Service gets a new address")
        }
        for claim in report.outsidePool {
            logger.info("not restoring an address outside the pool", metadata: ["service": "\(claim.key)", "address": "\(claim.address)"])
        }
        logger.info("ledger restored", metadata: ["services": "\(ledger.records.count)", "conflicts": "\(report.conflicts.count)"])
    }
}
