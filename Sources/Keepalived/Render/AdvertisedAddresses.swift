public import IPAM

/// What each VRRP instance's adverts list. keepalived drops an advert whose address list differs from its own
/// configuration, so adverts that list the VIPs split an instance (two masters of every VIP in it) whenever
/// one node applies a plan change late.
public enum AdvertisedAddresses: String, Hashable, Sendable {
    /// One token address per instance, the same on every node whatever VIPs the instance carries; the VIPs
    /// are `virtual_ipaddress_excluded` (added and announced on the master all the same).
    case token
    /// The VIPs themselves, as agents before the token rendered: kept while any node of the plan runs one.
    case vips

    /// `.token` unless another node of the plan published the state of an agent that renders only
    /// `.vips` (nil: the node published nothing readable, so its agent never ran or wrote garbage).
    public static func agreed(byPeers states: some Sequence<NodeVRRPState?>) -> Self {
        states.contains { $0 != nil && $0?.tokenAdverts != true } ? .vips : .token
    }
}

extension VRRPPlan {
    /// The plan `node`'s agent applies: with token adverts its own view (Local and pool VIPs only where allowed,
    /// `interfaces`: the node's, nil when unknown); with VIP adverts the whole plan, since every node's address
    /// lists must then match. The agent and `kubectl keepalived render` both use it, so they cannot differ.
    public func applied(by node: String, adverts: AdvertisedAddresses, interfaces: Set<String>?) -> VRRPPlan {
        adverts == .token ? view(for: node, interfaces: interfaces) : self
    }
}

extension VRRPPlan {
    /// Where keepalived puts an instance's token while master: never the VIP interface, so no neighbour
    /// learns of it.
    public static let tokenDevice = "lo"

    /// The instance's token, from the family, the VRID and a hash of the cluster name (two clusters whose
    /// VRIDs collide on one segment still elect apart): IPv4 127.128-255.x.VRID, IPv6 fe80::5652:x:x:VRID.
    public func token(of instance: Instance) -> IPAddress {
        var hash = FNV1a()
        for byte in cluster.utf8 { hash.add(byte) }
        let bits = hash.value
        switch instance.family {
        case .ipv4:
            let value = 127 << 24 | (0x80 | (bits >> 8) & 0x7f) << 16 | (bits & 0xff) << 8 | UInt64(instance.vrid)
            return IPAddress(family: .ipv4, value: UInt128(value))
        case .ipv6:
            let interfaceID = 0x5652 << 48 | (bits & 0xffff_ffff) << 16 | UInt64(instance.vrid)
            return IPAddress(family: .ipv6, value: UInt128(0xfe80) << 112 | UInt128(interfaceID))
        }
    }

    /// The address list of the instance's adverts (keepalived's `virtual_ipaddress`).
    public func advertisedAddresses(of instance: Instance, _ mode: AdvertisedAddresses) -> [IPAddress] {
        mode == .token ? [token(of: instance)] : instance.addresses
    }

    /// Every instance's token (what a dead keepalived may have left on `tokenDevice`).
    public var tokens: [IPAddress] { instances.map(token(of:)) }
}
