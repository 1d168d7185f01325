public import CloudProvider
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
        /// "all", or the namespaces a VIPPool allows.
        public var namespaces: String = "all"
        public var autoAssign: Bool = true
        public var priority: Int = 0
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
    /// VIPPools the controller would not use, with why: `check-config` exits 2 on any.
    public var errors: [String] = []

    /// VRIDs other VRRP routers on the segment are likely to use already.
    public static let commonVRIDs = [50: "kube-keepalived-vip's default", 51: "keepalived's sample configurations'"]

    /// `objects`: VIPPools to check beside the flag pool, as the controller would read them.
    public init(pool: Pool, planner: VRRPPlanner, objects: [VIPPool] = []) {
        cluster = planner.cluster
        let catalog = PoolCatalog(flagPool: pool, objects: objects)
        pools = catalog.usable.flatMap { definition in
            definition.pool.families.map { family in
                PoolRow(
                    pool: definition.name, family: family.rawValue,
                    entries: definition.pool.entries.filter { $0.family == family }.map(\.description),
                    excluded: definition.pool.exclusions.filter { $0.family == family }.map(\.description),
                    size: definition.pool.size(of: family).description,
                    namespaces: definition.namespaces.isEmpty ? "all" : definition.namespaces.joined(separator: ","),
                    autoAssign: definition.autoAssign, priority: definition.priority)
            }
        }
        errors = catalog.problems.sorted { $0.key < $1.key }.map {
            "VIPPool \($0.key): \($0.value.reason): \($0.value.message)"
        }
        instances = pool.families.flatMap { family in
            (0..<planner.groups).map { group in
                let vrid = planner.vrids.lower + group
                return InstanceRow(
                    instance: VRRPPlan.instanceName(cluster: planner.cluster, family: family, vrid: vrid),
                    vrid: vrid, family: family.rawValue)
            }
        }
        warnings = Self.commonVRIDs.keys.sorted().filter { (planner.vrids.lower...planner.vrids.upper).contains($0) }
            .map {
                "--vrid-range \(planner.vrids) contains VRID \($0), \(Self.commonVRIDs[$0]!): two VRRP routers with "
                    + "one VRID on an L2 segment fight over it; choose a range without it"
            }
        if pools.contains(where: { $0.size == "0" }) {
            warnings.append("a pool family has no usable address (check --exclude and --avoid-buggy-ips)")
        }
    }

    public var text: String {
        var pools = Table("POOL", "FAMILY", "ENTRIES", "EXCLUDED", "SIZE", "NAMESPACES", "AUTO", "PRIORITY")
        for row in self.pools {
            pools.add(
                row.pool, row.family, row.entries.joined(separator: ","),
                row.excluded.isEmpty ? "-" : row.excluded.joined(separator: ","), row.size, row.namespaces,
                row.autoAssign ? "yes" : "no", String(row.priority))
        }
        var instances = Table("INSTANCE", "VRID", "FAMILY")
        for row in self.instances { instances.add(row.instance, String(row.vrid), row.family) }
        return "cluster \(cluster)\n\n" + pools.text + "\n" + instances.text
            + warnings.map { "\nwarning: \($0)" }.joined() + errors.map { "\nerror: \($0)" }.joined()
            + (warnings.isEmpty && errors.isEmpty ? "" : "\n")
    }
}
