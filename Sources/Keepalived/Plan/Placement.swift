public import IPAM

/// Where VIPs may be held: an `externalTrafficPolicy: Local` Service's by nodes with an endpoint (kube-proxy drops
/// Local traffic elsewhere), a VIPPool's by the nodes its `nodeSelector` picks. Such a VIP rides a VRRP group led
/// by an allowed node, and only allowed nodes hold it (`VRRPPlan.Instance.allowedNodes`). The groups themselves
/// do not change: the other VIPs and the elections stay put while a restricted VIP moves between groups.
public struct Placement: Hashable, Sendable {
    /// Per restricted VIP, the nodes that may hold it (empty: none; the VIP is held nowhere).
    public var allowedNodes: [IPAddress: Set<String>]
    /// Per instance name, the node its agent reports MASTER of it (only where one node says so).
    public var masters: [String: String]
    /// Per restricted VIP, the VRID of the group it is in now: kept while that group's leader may hold it.
    public var currentGroups: [IPAddress: Int]

    public init(
        allowedNodes: [IPAddress: Set<String>] = [:], masters: [String: String] = [:],
        currentGroups: [IPAddress: Int] = [:]
    ) {
        self.allowedNodes = allowedNodes
        self.masters = masters
        self.currentGroups = currentGroups
    }
}

extension VRRPPlan {
    /// Per restricted VIP (one with `allowedNodes`), the VRID of the instance that carries it: a placement's
    /// `currentGroups`.
    public var restrictedGroups: [IPAddress: Int] {
        var result: [IPAddress: Int] = [:]
        for instance in instances {
            for address in instance.allowedNodes.keys { result[address] = instance.vrid }
        }
        return result
    }

    /// Per VIP, the VRID of the instance that carries it.
    public var groupsByAddress: [IPAddress: Int] {
        var result: [IPAddress: Int] = [:]
        for instance in instances {
            for address in instance.addresses { result[address] = instance.vrid }
        }
        return result
    }
}
