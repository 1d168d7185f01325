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
        let nodes = Array(Set(nodes)).sorted()
        var buckets: [Int: [IPAddress]] = [:]
        for address in addresses {
            let group = group(of: address)
            buckets[group * 2 + (address.family == .ipv4 ? 0 : 1), default: []].append(address)
        }
        let instances = buckets.keys.sorted().map { key in
            let group = key / 2
            return VRRPPlan.Instance(
                vrid: vrids.lower + group, family: key % 2 == 0 ? .ipv4 : .ipv6,
                preferred: nodes.isEmpty ? 0 : group % nodes.count, addresses: buckets[key]!.sorted())
        }
        return try VRRPPlan(cluster: cluster, nodes: nodes, instances: instances)
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
