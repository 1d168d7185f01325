public import IPAM

/// What the controller tells every agent: which VIPs form which VRRP instance, the instance's
/// VRID, and which eligible node is preferred for it. Node-local details (interface, source IP,
/// peers, priority) are the agent's to fill in.
public struct VRRPPlan: Hashable, Sendable {
    /// The ConfigMap data key that carries the plan beside the kube-keepalived-vip entries.
    public static let dataKey = "keepalived-lb.vrrp-plan"

    public struct Instance: Hashable, Sendable {
        public let vrid: Int
        public let family: IPFamily
        /// Index into `nodes` of the preferred node; the rest follow in rotation.
        public let preferred: Int
        public let addresses: [IPAddress]
        /// Restricted VIPs (a Local Service's, a node-selecting pool's; see `Placement`): only these nodes (indices
        /// into `nodes`) may hold them. An empty list: no node.
        public let allowedNodes: [IPAddress: [Int]]
        /// What each VIP's Services publish; the agents let only these (and ICMP echo) through to it. A VIP
        /// without an entry (a plan from an older controller) is not filtered.
        public let ports: [IPAddress: [VIPPort]]
        /// The interface a VIP goes on when its pool names one (`VIPPool.spec.interface`); else the agent's.
        public let interfaces: [IPAddress: String]

        public init(
            vrid: Int, family: IPFamily, preferred: Int, addresses: [IPAddress], allowedNodes: [IPAddress: [Int]] = [:],
            ports: [IPAddress: [VIPPort]] = [:], interfaces: [IPAddress: String] = [:]
        ) {
            self.vrid = vrid
            self.family = family
            self.preferred = preferred
            self.addresses = addresses
            self.allowedNodes = allowedNodes
            self.ports = ports
            self.interfaces = interfaces
        }

        /// Whether `nodeIndex` may hold `address` (every node may hold a VIP without a Local restriction).
        public func mayHold(_ address: IPAddress, nodeIndex: Int) -> Bool {
            allowedNodes[address].map { $0.contains(nodeIndex) } ?? true
        }
    }

    public let cluster: String
    /// Eligible nodes, sorted by name, so every agent computes the same ranks.
    public let nodes: [String]
    public let instances: [Instance]
    /// VIPs of BGP pools (see `Route`), sorted by address.
    public let routes: [Route]

    public init(cluster: String, nodes: [String], instances: [Instance], routes: [Route] = [])
        throws(KeepalivedError)
    {
        try KubernetesName.validateLabel(cluster, what: "cluster name")
        for node in nodes { try NodeName.validate(node) }
        var seen = Set<String>()
        for instance in instances {
            guard (1...255).contains(instance.vrid) else {
                throw KeepalivedError(.invalidVRID, "VRID \(instance.vrid) is outside 1-255")
            }
            guard seen.insert("\(instance.family)/\(instance.vrid)").inserted else {
                throw KeepalivedError(.duplicateVRID, "VRID \(instance.vrid) is used twice for \(instance.family)")
            }
            guard nodes.isEmpty || (0..<nodes.count).contains(instance.preferred) else {
                throw KeepalivedError(
                    .invalidPreferredNode,
                    "instance \(instance.vrid) prefers node #\(instance.preferred) of \(nodes.count)")
            }
            guard !instance.addresses.isEmpty, instance.addresses.allSatisfy({ $0.family == instance.family }) else {
                throw KeepalivedError(
                    .invalidInstanceAddresses,
                    "instance \(instance.vrid) (\(instance.family)) needs at least one address, all of its family")
            }
            let members = Set(instance.addresses)
            guard instance.ports.keys.allSatisfy(members.contains),
                instance.interfaces.keys.allSatisfy(members.contains)
            else {
                throw KeepalivedError(
                    .invalidInstanceAddresses,
                    "instance \(instance.vrid) lists ports or an interface of an address it does not carry")
            }
            for name in instance.interfaces.values { try InterfaceName.validate(name) }
            for (address, indices) in instance.allowedNodes {
                guard members.contains(address), indices.allSatisfy({ (0..<nodes.count).contains($0) }) else {
                    throw KeepalivedError(
                        .invalidInstanceAddresses,
                        "instance \(instance.vrid) restricts \(address) to nodes outside the plan or to an address "
                            + "it does not carry")
                }
            }
        }
        try Self.validate(routes: routes, nodes: nodes, instances: instances)
        self.cluster = cluster
        self.nodes = nodes
        self.instances = instances
        self.routes = routes.sorted { $0.address < $1.address }
    }

    /// The plan as `node` applies it: a Local VIP whose endpoints are elsewhere is left out of the instances it
    /// is in, which still run (their other VIPs and the election stay as they are). Only with token adverts:
    /// with the VIPs in the adverts, differing address lists would split the instance.
    /// `interfaces`: the node's; a VIP whose pool's interface it lacks is left out too (the controller already
    /// keeps such nodes out of `allowedNodes`; this keeps keepalived from being handed a device it cannot find).
    public func view(for node: String, interfaces: Set<String>? = nil) -> VRRPPlan {
        guard let index = nodes.firstIndex(of: node),
            instances.contains(where: { !$0.allowedNodes.isEmpty || (interfaces != nil && !$0.interfaces.isEmpty) })
        else {
            return self
        }
        return VRRPPlan(
            validated: cluster, nodes: nodes, routes: routes,
            instances: instances.map { instance in
                guard !instance.allowedNodes.isEmpty || !instance.interfaces.isEmpty else { return instance }
                return Instance(
                    vrid: instance.vrid, family: instance.family, preferred: instance.preferred,
                    addresses: instance.addresses.filter { address in
                        instance.mayHold(address, nodeIndex: index)
                            && (instance.interfaces[address].map { interfaces?.contains($0) ?? true } ?? true)
                    },
                    ports: instance.ports, interfaces: instance.interfaces)
            })
    }

    private init(validated cluster: String, nodes: [String], routes: [Route], instances: [Instance]) {
        self.cluster = cluster
        self.nodes = nodes
        self.instances = instances
        self.routes = routes
    }

    /// Every VIP of every instance.
    public var addresses: [IPAddress] { instances.flatMap(\.addresses) }

    /// VIPs that `node` alone may hold (a Local Service whose endpoints are all there). No election can move them,
    /// so that node's agent holds them itself, outside keepalived, also across its own and keepalived's restarts.
    public func soleAddresses(of node: String) -> [IPAddress] {
        guard let index = nodes.firstIndex(of: node) else { return [] }
        return instances.flatMap { instance in instance.addresses.filter { instance.allowedNodes[$0] == [index] } }
    }

    /// The plan without `removed` (what keepalived is told when the agent holds those VIPs itself).
    public func removing(_ removed: Set<IPAddress>) -> VRRPPlan {
        guard !removed.isEmpty else { return self }
        return VRRPPlan(
            validated: cluster, nodes: nodes, routes: routes,
            instances: instances.map { instance in
                Instance(
                    vrid: instance.vrid, family: instance.family, preferred: instance.preferred,
                    addresses: instance.addresses.filter { !removed.contains($0) },
                    allowedNodes: instance.allowedNodes.filter { !removed.contains($0.key) },
                    ports: instance.ports.filter { !removed.contains($0.key) },
                    interfaces: instance.interfaces.filter { !removed.contains($0.key) })
            })
    }

    /// Names of the nodes that may hold or announce `address` (nil: any node of the plan).
    public func allowedNodes(of address: IPAddress) -> [String]? {
        for instance in instances {
            if let indices = instance.allowedNodes[address] { return indices.map { nodes[$0] } }
        }
        if let route = routes.first(where: { $0.address == address }) { return route.allowedNodes?.map { nodes[$0] } }
        return nil
    }

    /// 0 for the preferred node, 1 for the next in rotation…; nil when the node is not eligible.
    public func rank(of node: String, in instance: Instance) -> Int? {
        guard let index = nodes.firstIndex(of: node) else { return nil }
        return (index - instance.preferred + nodes.count) % nodes.count
    }

    /// Instances of this plan that `previous` did not have (same family and VRID): new to every
    /// node that had `previous`, so no node can be their master yet.
    public func instancesNew(since previous: VRRPPlan) -> [Instance] {
        let known = Set(previous.instances.map { "\($0.family)/\($0.vrid)" })
        return instances.filter { !known.contains("\($0.family)/\($0.vrid)") }
    }

    /// keepalived's instance name: derived from validated parts only.
    public func instanceName(_ instance: Instance) -> String {
        Self.instanceName(cluster: cluster, family: instance.family, vrid: instance.vrid)
    }

    /// The same name for an instance a planner would make (`kubectl keepalived check-config`).
    public static func instanceName(cluster: String, family: IPFamily, vrid: Int) -> String {
        "\(cluster)_\(family == .ipv4 ? "v4" : "v6")_\(vrid)"
    }
}
