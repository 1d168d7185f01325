public import IPAM

/// Where the node sends packets for an address: out of which interface, through which gateway (nil: on-link).
public struct Route: Hashable, Sendable {
    public let interfaceIndex: Int32
    public let gateway: IPAddress?

    public init(interfaceIndex: Int32, gateway: IPAddress?) {
        self.interfaceIndex = interfaceIndex
        self.gateway = gateway
    }

    /// Whether a pod at the route's end runs on this node: reached over a local bridge or veth, not through a
    /// gateway nor over `link`, the node's own network (where the other nodes are).
    public func reachesALocalPod(besides link: Link) -> Bool {
        gateway == nil && interfaceIndex != link.index
    }
}
