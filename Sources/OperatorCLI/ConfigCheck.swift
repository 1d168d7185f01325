public import IPAM
public import Keepalived

/// What `kubectl keepalived check-config` prints for a set of controller flags, offline: the pool
/// per family with its size, and the VRRP instances and VRIDs the plan would use.
public struct ConfigCheck: Hashable, Sendable, Codable {
    public struct PoolRow: Hashable, Sendable, Codable {
        public var pool: String
        public var family: String
        public var entries: [String]
        public var excluded: [String]
        public var size: String
    }

    public struct InstanceRow: Hashable, Sendable, Codable {
        public var instance: String
        public var vrid: Int
        public var family: String
    }

    public var cluster: String
    public var pools: [PoolRow]
    public var instances: [InstanceRow]
    public var warnings: [String]

    /// VRIDs other VRRP routers on the segment are likely to use already.
    public static let commonVRIDs = [50: "kube-keepalived-vip's default", 51: "keepalived's sample configurations'"]

    public init(pool: Pool, planner: VRRPPlanner) {
        cluster = planner.cluster
        pools = pool.families.map { family in
            PoolRow(
                pool: pool.name, family: Self.name(family),
                entries: pool.entries.filter { $0.family == family }.map(\.description),
                excluded: pool.exclusions.filter { $0.family == family }.map(\.description),
                size: pool.size(of: family).description)
        }
        instances = pool.families.flatMap { family in
            (0..<planner.groups).map { group in
                let vrid = planner.vrids.lower + group
                return InstanceRow(
                    instance: "\(planner.cluster)_\(family == .ipv4 ? "v4" : "v6")_\(vrid)", vrid: vrid,
                    family: Self.name(family))
            }
        }
        warnings = Self.commonVRIDs.keys.sorted().filter { (planner.vrids.lower...planner.vrids.upper).contains($0) }
            .map {
                "--vrid-range \(planner.vrids) contains VRID \($0), \(Self.commonVRIDs[$0]!): two VRRP routers with one "
                    + "VRID on an L2 segment fight over it; choose a range without it"
            }
        if pools.contains(where: { $0.size == "0" }) {
            warnings.append("a pool family has no usable address (check --exclude and --avoid-buggy-ips)")
        }
    }

    static func name(_ family: IPFamily) -> String { family == .ipv4 ? "IPv4" : "IPv6" }

    public var text: String {
        var pools = Table("POOL", "FAMILY", "ENTRIES", "EXCLUDED", "SIZE")
        for row in self.pools {
            pools.add(
                row.pool, row.family, row.entries.joined(separator: ","),
                row.excluded.isEmpty ? "-" : row.excluded.joined(separator: ","), row.size)
        }
        var instances = Table("INSTANCE", "VRID", "FAMILY")
        for row in self.instances { instances.add(row.instance, String(row.vrid), row.family) }
        return "cluster \(cluster)\n\n" + pools.text + "\n" + instances.text
            + warnings.map { "\nwarning: \($0)" }.joined() + (warnings.isEmpty ? "" : "\n")
    }
}
