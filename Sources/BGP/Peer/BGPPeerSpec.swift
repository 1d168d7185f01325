public import IPAM

/// One BGP session a node opens: to whom, as which AS, with which timers, and how failure is detected.
/// Only validated values: everything here may be written into the routing daemon's configuration.
public struct BGPPeerSpec: Hashable, Sendable {
    public let peerAddress: IPAddress
    public let peerASN: ASN
    public let localASN: ASN
    public let port: UInt16
    public let holdTimeSeconds: Int
    public let keepaliveTimeSeconds: Int
    public let bfd: BFDSettings?
    public let password: BGPPassword?
    /// The node's own address the session starts from; nil: the route's source address.
    public let sourceAddress: IPAddress?
    /// TTL for an eBGP peer more than one hop away; nil: directly connected.
    public let ebgpMultihop: Int?

    /// Hold time 0 (no keepalives) or 3-65,535 s (RFC 4271); keepalive 1 s to a third of the hold time, by default
    /// a third; port 1-65,535; multihop 1-255.
    public init(
        peerAddress: IPAddress, peerASN: ASN, localASN: ASN, port: Int = 179, holdTimeSeconds: Int = 90,
        keepaliveTimeSeconds: Int? = nil, bfd: BFDSettings? = nil, password: BGPPassword? = nil,
        sourceAddress: IPAddress? = nil, ebgpMultihop: Int? = nil
    ) throws(BGPError) {
        guard (1...65_535).contains(port) else {
            throw BGPError(.invalidPeer, "port \(port) is out of range; use 1-65535 (BGP listens on 179)")
        }
        guard holdTimeSeconds == 0 || (3...65_535).contains(holdTimeSeconds) else {
            throw BGPError(
                .invalidTimer,
                "holdTimeSeconds \(holdTimeSeconds) is not allowed; use 0 or 3-65535 (RFC 4271; 90 is common)")
        }
        let keepalive = keepaliveTimeSeconds ?? holdTimeSeconds / 3
        if holdTimeSeconds > 0 {
            guard (1...holdTimeSeconds / 3).contains(keepalive) else {
                throw BGPError(
                    .invalidTimer,
                    "keepaliveTimeSeconds \(keepalive) must be 1 to a third of holdTimeSeconds (\(holdTimeSeconds / 3))"
                )
            }
        }
        if let sourceAddress, sourceAddress.family != peerAddress.family {
            throw BGPError(
                .invalidPeer, "sourceAddress \(sourceAddress) is not of the peer address \(peerAddress)'s family")
        }
        if let ebgpMultihop {
            guard (1...255).contains(ebgpMultihop) else {
                throw BGPError(.invalidPeer, "ebgpMultihop \(ebgpMultihop) is out of range; use 1-255")
            }
            guard peerASN != localASN else {
                throw BGPError(.invalidPeer, "ebgpMultihop is for eBGP; peer AS and local AS are both \(localASN)")
            }
        }
        self.peerAddress = peerAddress
        self.peerASN = peerASN
        self.localASN = localASN
        self.port = UInt16(port)
        self.holdTimeSeconds = holdTimeSeconds
        self.keepaliveTimeSeconds = holdTimeSeconds == 0 ? 0 : keepalive
        self.bfd = bfd
        self.password = password
        self.sourceAddress = sourceAddress
        self.ebgpMultihop = ebgpMultihop
    }

    /// iBGP: the same AS on both ends (local preference is sent only then).
    public var isInternal: Bool { peerASN == localASN }
}
