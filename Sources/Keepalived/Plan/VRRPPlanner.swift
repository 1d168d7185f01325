public import BGP
public import IPAM

/// Groups VIPs into a bounded number of VRRP instances. A VIP's group comes from a stable hash of
/// its address, so adding or removing one VIP touches one instance only; group `g` uses VRID
/// `range.lower + g` and prefers node `g mod n`, which spreads groups (and traffic) over the nodes.
public struct VRRPPlanner: Hashable, Sendable {
    public let cluster: String
    public let vrids: VRIDRange
    public let groups: Int

    public init(cluster: String, vrids: VRIDRange, groups: Int) throws(KeepalivedError) {
        try KubernetesName.validateLabel(cluster, what: "cluster name")
        guard groups >= 1, groups <= vrids.count else {
            throw KeepalivedError(
                .invalidGroupCount,
                "--vrrp-groups is \(groups); it must be between 1 and the size of --vrid-range \(vrids) "
                    + "(\(vrids.count))"
            )
        }
        self.cluster = cluster
        self.vrids = vrids
        self.groups = groups
    }

    public func plan(addresses: some Sequence<IPAddress>, nodes: some Sequence<String>) throws(KeepalivedError)
        -> VRRPPlan
    {
        try plan(addresses: addresses, nodes: nodes, placement: Placement()).plan
    }

    /// The plan with Local VIPs placed (see `Placement`); `unplaced` are the Local VIPs with endpoints on two or
    /// more eligible nodes none of which leads a group: they wait in their own group for one of those nodes to lead
    /// it. With one such node there is nothing to wait for: its agent holds the VIP itself (`soleAddresses`).
    /// `routed`: the addresses of BGP pools with their pool's attributes; they become routes, not instances.
    public func plan(
        addresses: some Sequence<IPAddress>, nodes: some Sequence<String>, placement: Placement,
        ports: [IPAddress: [VIPPort]] = [:], interfaces: [IPAddress: String] = [:],
        routed: [IPAddress: RouteAttributes] = [:]
    ) throws(KeepalivedError) -> (plan: VRRPPlan, unplaced: [IPAddress]) {
        let nodes = Array(Set(nodes)).sorted()
        let index = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1, $0) })
        var buckets: [Int: [IPAddress]] = [:]
        var restricted: [Int: [IPAddress: [Int]]] = [:]
        var unplaced: [IPAddress] = []
        var routes: [VRRPPlan.Route] = []
        for address in addresses {
            if let attributes = routed[address] {
                // Every allowed node announces it (ECMP): no group, no leader to wait for.
                routes.append(
                    VRRPPlan.Route(
                        address: address,
                        allowedNodes: placement.allowedNodes[address].map { $0.compactMap { index[$0] } },
                        ports: ports[address] ?? [], communities: attributes.communities,
                        localPreference: attributes.localPreference))
                continue
            }
            var group = group(of: address)
            if let endpoints = placement.allowedNodes[address] {
                let allowed = endpoints.compactMap { index[$0] }.sorted()
                if !allowed.isEmpty {
                    if let chosen = localGroup(of: address, allowed: Set(allowed), nodes: nodes, placement: placement) {
                        group = chosen
                    } else {
                        // Waits where it is: a leader it may have had comes back (a restarted keepalived
                        // preempts), and the VIP moves once per change, not twice.
                        if let current = placement.currentGroups[address].map({ $0 - vrids.lower }),
                            (0..<groups).contains(current)
                        {
                            group = current
                        }
                        if allowed.count > 1 { unplaced.append(address) }
                    }
                }
                restricted[key(group, address.family), default: [:]][address] = allowed
            }
            buckets[key(group, address.family), default: []].append(address)
        }
        let instances = buckets.keys.sorted().map { key in
            let group = key / 2
            return VRRPPlan.Instance(
                vrid: vrids.lower + group, family: key % 2 == 0 ? .ipv4 : .ipv6,
                preferred: nodes.isEmpty ? 0 : group % nodes.count, addresses: buckets[key]!.sorted(),
                allowedNodes: restricted[key] ?? [:],
                ports: buckets[key]!.reduce(into: [:]) { result, address in result[address] = ports[address] },
                interfaces: buckets[key]!.reduce(into: [:]) { result, address in
                    result[address] = interfaces[address]
                })
        }
        return (try VRRPPlan(cluster: cluster, nodes: nodes, instances: instances, routes: routes), unplaced)
    }

    /// What a BGP pool adds to each of its routes.
    public struct RouteAttributes: Hashable, Sendable {
        public let communities: [BGPCommunity]
        public let localPreference: UInt32?

        public init(communities: [BGPCommunity] = [], localPreference: UInt32? = nil) {
            self.communities = communities
            self.localPreference = localPreference
        }
    }

    private func key(_ group: Int, _ family: IPFamily) -> Int { group * 2 + (family == .ipv4 ? 0 : 1) }

    /// A group whose master (as the agents report it, else its preferred node) has an endpoint: the one the
    /// address is in already if it qualifies (no move), else the highest rendezvous hash (spread, and stable
    /// while the candidates stay).
    private func localGroup(of address: IPAddress, allowed: Set<Int>, nodes: [String], placement: Placement)
        -> Int?
    {
        guard !nodes.isEmpty else { return nil }
        let position = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1, $0) })
        func leader(_ group: Int) -> Int {
            let name = VRRPPlan.instanceName(cluster: cluster, family: address.family, vrid: vrids.lower + group)
            return placement.masters[name].flatMap { position[$0] } ?? group % nodes.count
        }
        if let current = placement.currentGroups[address].map({ $0 - vrids.lower }), (0..<groups).contains(current),
            allowed.contains(leader(current))
        {
            return current
        }
        return (0..<groups).filter { allowed.contains(leader($0)) }.max {
            rendezvous(address, $0) < rendezvous(address, $1)
        }
    }

    private func rendezvous(_ address: IPAddress, _ group: Int) -> UInt64 {
        var hash = FNV1a()
        var value = address.value
        for _ in 0..<(address.family == .ipv4 ? 4 : 16) {
            hash.add(UInt8(truncatingIfNeeded: value))
            value >>= 8
        }
        hash.add(UInt8(truncatingIfNeeded: group))
        hash.add(UInt8(truncatingIfNeeded: group >> 8))
        return hash.value
    }

    /// FNV-1a over the address bytes.
    public func group(of address: IPAddress) -> Int {
        var hash = FNV1a()
        var value = address.value
        for _ in 0..<(address.family == .ipv4 ? 4 : 16) {
            hash.add(UInt8(truncatingIfNeeded: value))
            value >>= 8
        }
        return Int(hash.value % UInt64(groups))
    }
}
