import BGP
import Foundation
import IPAM

extension VRRPPlan {
    private struct Document: Codable {
        struct Instance: Codable {
            var vrid: Int
            var family: String
            var preferred: Int
            var addresses: [String]
            /// Absent unless the instance carries a Local VIP: a plan without any stays byte-identical.
            var allowedNodes: [String: [Int]]?
            var ports: [String: [String]]?
            var interfaces: [String: String]?
        }
        struct Route: Codable {
            var address: String
            var allowedNodes: [Int]?
            var ports: [String]?
            var communities: [String]?
            var localPreference: UInt32?
        }
        var version: Int
        var cluster: String
        var nodes: [String]
        var instances: [Instance]
        /// Absent without a BGP pool: a VRRP-only plan stays byte-identical (and readable by older agents).
        var routes: [Route]?
    }

    /// Compact JSON with sorted keys, so an unchanged plan is byte-identical and costs no write.
    public func json() -> String {
        let document = Document(
            version: 1, cluster: cluster, nodes: nodes,
            instances: instances.map {
                .init(
                    vrid: $0.vrid, family: $0.family.rawValue, preferred: $0.preferred,
                    addresses: $0.addresses.map(\.description),
                    allowedNodes: $0.allowedNodes.isEmpty
                        ? nil
                        : Dictionary(uniqueKeysWithValues: $0.allowedNodes.map { ($0.key.description, $0.value) }),
                    ports: $0.ports.isEmpty
                        ? nil
                        : Dictionary(
                            uniqueKeysWithValues: $0.ports.map { ($0.key.description, $0.value.map(\.description)) }),
                    interfaces: $0.interfaces.isEmpty
                        ? nil : Dictionary(uniqueKeysWithValues: $0.interfaces.map { ($0.key.description, $0.value) }))
            },
            routes: routes.isEmpty
                ? nil
                : routes.map {
                    .init(
                        address: $0.address.description, allowedNodes: $0.allowedNodes,
                        ports: $0.ports.isEmpty ? nil : $0.ports.map(\.description),
                        communities: $0.communities.isEmpty ? nil : $0.communities.map(\.description),
                        localPreference: $0.localPreference)
                })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(document)) ?? Data(), as: UTF8.self)
    }

    /// Parses and re-validates everything: the ConfigMap is writable by others than the controller.
    public init(json: String) throws(KeepalivedError) {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: Data(json.utf8))
        } catch {
            throw KeepalivedError(.invalidPlan, "ConfigMap key \(Self.dataKey) is not a VRRP plan: \(error)")
        }
        guard document.version == 1 else {
            throw KeepalivedError(
                .unsupportedPlanVersion,
                "VRRP plan version \(document.version) is newer than this agent understands (1); upgrade the agent")
        }
        var instances: [Instance] = []
        for instance in document.instances {
            guard let family = IPFamily(rawValue: instance.family) else {
                throw KeepalivedError(
                    .invalidPlan,
                    "instance \(instance.vrid) has family \"\(instance.family.prefix(16))\"; allowed: IPv4, IPv6")
            }
            var addresses: [IPAddress] = []
            for text in instance.addresses {
                do {
                    addresses.append(try IPAddress(text))
                } catch {
                    throw KeepalivedError(.invalidPlan, "instance \(instance.vrid): \(error)")
                }
            }
            var allowedNodes: [IPAddress: [Int]] = [:]
            for (text, indices) in instance.allowedNodes ?? [:] {
                do {
                    allowedNodes[try IPAddress(text)] = indices
                } catch {
                    throw KeepalivedError(.invalidPlan, "instance \(instance.vrid) allowedNodes: \(error)")
                }
            }
            var ports: [IPAddress: [VIPPort]] = [:]
            for (text, list) in instance.ports ?? [:] {
                do {
                    ports[try IPAddress(text)] = try list.map { (text) throws(KeepalivedError) in
                        try VIPPort(parsing: text)
                    }
                } catch {
                    throw KeepalivedError(.invalidPlan, "instance \(instance.vrid) ports: \(error)")
                }
            }
            var interfaces: [IPAddress: String] = [:]
            for (text, name) in instance.interfaces ?? [:] {
                do {
                    interfaces[try IPAddress(text)] = name
                } catch {
                    throw KeepalivedError(.invalidPlan, "instance \(instance.vrid) interfaces: \(error)")
                }
            }
            instances.append(
                Instance(
                    vrid: instance.vrid, family: family, preferred: instance.preferred, addresses: addresses,
                    allowedNodes: allowedNodes, ports: ports, interfaces: interfaces))
        }
        var routes: [Route] = []
        for route in document.routes ?? [] {
            do {
                routes.append(
                    Route(
                        address: try IPAddress(route.address), allowedNodes: route.allowedNodes,
                        ports: try (route.ports ?? []).map { (text) throws(KeepalivedError) in
                            try VIPPort(parsing: text)
                        },
                        communities: try (route.communities ?? []).map { (text) throws(BGPError) in
                            try BGPCommunity(parsing: text)
                        },
                        localPreference: route.localPreference))
            } catch {
                throw KeepalivedError(.invalidPlan, "route \(route.address.prefix(64)): \(error)")
            }
        }
        try self.init(cluster: document.cluster, nodes: document.nodes, instances: instances, routes: routes)
    }
}
