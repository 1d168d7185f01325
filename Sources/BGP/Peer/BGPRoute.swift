public import IPAM

/// A VIP as a node announces it: its /32 or /128 with this node as next hop, and the pool's attributes.
public struct BGPRoute: Hashable, Comparable, Sendable {
    public let address: IPAddress
    public let communities: [BGPCommunity]
    /// Sent to iBGP peers only (RFC 4271); higher is preferred.
    public let localPreference: UInt32?

    public init(address: IPAddress, communities: [BGPCommunity] = [], localPreference: UInt32? = nil) {
        self.address = address
        self.communities = Array(Set(communities)).sorted()
        self.localPreference = localPreference
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.address < rhs.address }
}
