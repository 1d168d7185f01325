import CloudProvider
import IPAM
import Keepalived
public import KubeClient

/// What `kubectl keepalived status` shows, computed from the objects alone (no I/O): the pools'
/// use, and per LoadBalancer Service its addresses, VRRP instance and the nodes that hold them now.
public struct StatusReport: Hashable, Sendable, Codable {
    public struct PoolRow: Hashable, Sendable, Codable {
        public var pool: String
        public var family: String
        public var size: String
        public var used: Int
        public var free: String
    }

    public struct ServiceRow: Hashable, Sendable, Codable {
        public var namespace: String
        public var name: String
        public var addresses: [String]
        public var pool: String?
        public var sharingKey: String?
        public var instance: String?
        public var vrid: Int?
        /// Nodes whose agents report holding one of the addresses now.
        public var announcedBy: [String]
        /// Empty when the Service is served as it should be.
        public var problems: [String]
    }

    public var configMap: String
    /// False when the ConfigMap names no pools (a controller older than the annotation).
    public var poolsKnown: Bool
    public var pools: [PoolRow]
    public var services: [ServiceRow]
    public var splitBrain: Int
    public var unserved: Int

    public init(configMapKey: String, configMap: ConfigMap?, services allServices: [Service], nodes: [Node]) {
        self.configMap = configMapKey
        let plan = configMap?.data[VRRPPlan.dataKey].flatMap { try? VRRPPlan(json: $0) }
        let annotation = PoolAnnotation(annotation: configMap?.metadata.annotations[PoolAnnotation.annotation])
        let parsedPools = annotation?.parsedPools() ?? []
        let poolsKnown = annotation != nil
        self.poolsKnown = poolsKnown
        let planned = plan?.instances.flatMap(\.addresses) ?? []

        pools = parsedPools.flatMap { pool in
            pool.families.map { family in
                let size = pool.size(of: family)
                let used = planned.filter { $0.family == family && pool.contains($0) }.count
                return PoolRow(
                    pool: pool.name, family: family.rawValue, size: size.description, used: used,
                    free: (size - AddressCount(UInt128(used))).description)
            }
        }

        var holders: [IPAddress: [String]] = [:]
        for node in nodes {
            guard let name = node.metadata.name,
                let state = NodeVRRPState(annotation: node.metadata.annotations[NodeVRRPState.annotation])
            else { continue }
            for address in state.heldAddresses { holders[address, default: []].append(name) }
        }
        var instanceOf: [IPAddress: VRRPPlan.Instance] = [:]
        for instance in plan?.instances ?? [] {
            for address in instance.addresses { instanceOf[address] = instance }
        }

        services =
            allServices.filter { $0.spec.type == .loadBalancer }.map { service in
                let addresses = service.status.loadBalancer.ingress.compactMap { $0.ip.flatMap { try? IPAddress($0) } }
                let instance = addresses.lazy.compactMap { instanceOf[$0] }.first
                let announcedBy = Array(Set(addresses.flatMap { holders[$0] ?? [] })).sorted()
                var problems: [String] = []
                if addresses.isEmpty {
                    problems.append("no address yet")
                } else {
                    for address in addresses where instanceOf[address] == nil {
                        problems.append("\(address) is not in the VRRP plan")
                    }
                    for address in addresses where (holders[address] ?? []).isEmpty {
                        problems.append("\(address) is held by no node")
                    }
                    for address in addresses where (holders[address] ?? []).count > 1 {
                        problems.append(
                            "split brain: \(address) on \((holders[address] ?? []).sorted().joined(separator: ","))")
                    }
                }
                let pool = addresses.lazy.compactMap { address in parsedPools.first { $0.contains(address) }?.name }
                    .first
                if poolsKnown, !addresses.isEmpty, pool == nil { problems.append("outside every pool") }
                return ServiceRow(
                    namespace: service.metadata.namespace ?? "", name: service.metadata.name ?? "",
                    addresses: addresses.map(\.description), pool: pool,
                    sharingKey: service.metadata.annotations[Sharing.annotation].map { String($0.prefix(63)) },
                    instance: instance.map { plan!.instanceName($0) }, vrid: instance?.vrid, announcedBy: announcedBy,
                    problems: problems)
            }.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        splitBrain = self.services.filter { $0.problems.contains { $0.hasPrefix("split brain") } }.count
        unserved = self.services.filter { !$0.problems.isEmpty && $0.announcedBy.isEmpty }.count
    }
}
