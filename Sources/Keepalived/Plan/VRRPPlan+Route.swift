public import BGP
public import IPAM

extension VRRPPlan {
    /// A VIP of a BGP pool: announced by routing daemons instead of held by a VRRP instance. It never goes on an
    /// interface (kube-proxy matches load balancer addresses itself) and uses no VRID.
    public struct Route: Hashable, Sendable {
        public let address: IPAddress
        /// Indices into `nodes` of the nodes that may announce it (a Local Service's endpoint nodes, a pool's
        /// `nodeSelector`); nil: every node of the plan. Empty: no node.
        public let allowedNodes: [Int]?
        /// What its Services publish (the agents let only these and ICMP echo through); empty: not filtered.
        public let ports: [VIPPort]
        public let communities: [BGPCommunity]
        /// For iBGP peers; nil: the routing daemon's default (100).
        public let localPreference: UInt32?

        public init(
            address: IPAddress, allowedNodes: [Int]? = nil, ports: [VIPPort] = [], communities: [BGPCommunity] = [],
            localPreference: UInt32? = nil
        ) {
            self.address = address
            self.allowedNodes = allowedNodes.map { Array(Set($0)).sorted() }
            self.ports = ports
            self.communities = Array(Set(communities)).sorted()
            self.localPreference = localPreference
        }

        /// What `node` (at `nodeIndex`) tells its peers.
        public var bgpRoute: BGPRoute {
            BGPRoute(address: address, communities: communities, localPreference: localPreference)
        }
    }

    /// The routes `node` announces: none when it is not in the plan (not eligible), else those it may announce.
    public func routes(for node: String) -> [BGPRoute] {
        guard let index = nodes.firstIndex(of: node) else { return [] }
        return routes.filter { $0.allowedNodes?.contains(index) ?? true }.map(\.bgpRoute)
    }

    /// Every VIP the plan serves, by VRRP or BGP.
    public var servedAddresses: [IPAddress] { addresses + routes.map(\.address) }

    static func validate(routes: [Route], nodes: [String], instances: [Instance]) throws(KeepalivedError) {
        let held = Set(instances.flatMap(\.addresses))
        var seen = Set<IPAddress>()
        for route in routes {
            guard seen.insert(route.address).inserted, !held.contains(route.address) else {
                throw KeepalivedError(
                    .invalidInstanceAddresses, "route \(route.address) is listed twice or also held by VRRP")
            }
            guard route.allowedNodes?.allSatisfy({ (0..<nodes.count).contains($0) }) ?? true else {
                throw KeepalivedError(.invalidInstanceAddresses, "route \(route.address) names nodes outside the plan")
            }
        }
    }
}
