public import IPAM

/// Where the VIPs of `externalTrafficPolicy: Local` Services may be held. kube-proxy drops Local traffic on a
/// node without a local endpoint, so such a VIP rides a VRRP group led by a node with one, and only nodes with
/// one may hold it (`VRRPPlan.Instance.localNodes`). The groups themselves do not change: Cluster VIPs and the
/// elections stay put while Local VIPs move between groups.
public struct LocalPlacement: Hashable, Sendable {
    /// Per Local VIP, the nodes with a serving endpoint of its Service (empty: none; the VIP is held nowhere).
    public var endpointNodes: [IPAddress: Set<String>]
    /// Per instance name, the node its agent reports MASTER of it (only where one node says so).
    public var masters: [String: String]
    /// Per Local VIP, the VRID of the group it is in now: kept while that group's leader has an endpoint.
    public var currentGroups: [IPAddress: Int]

    public init(
        endpointNodes: [IPAddress: Set<String>] = [:], masters: [String: String] = [:],
        currentGroups: [IPAddress: Int] = [:]
    ) {
        self.endpointNodes = endpointNodes
        self.masters = masters
        self.currentGroups = currentGroups
    }
}

extension VRRPPlan {
    /// Per VIP, the VRID of the instance that carries it (a placement's `currentGroups`).
    public var groupsByAddress: [IPAddress: Int] {
        var result: [IPAddress: Int] = [:]
        for instance in instances {
            for address in instance.addresses { result[address] = instance.vrid }
        }
        return result
    }
}
