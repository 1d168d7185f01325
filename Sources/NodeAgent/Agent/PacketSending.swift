public import IPAM
public import NodeNetwork

/// The packets the agent sends in keepalived's stead: the priority-0 advert of a keepalived that died, and the
/// gratuitous ARP / NA for a VIP the agent holds itself. `NodePackets` sends them on the node.
public protocol PacketSending: Sendable {
    func send(
        _ advertisement: VRRPAdvertisement, from source: IPAddress, to destinations: [IPAddress], interface: String)
        throws(NodeNetworkError)
    func announce(_ address: IPAddress, hardwareAddress: [UInt8], on link: Link) throws(NodeNetworkError)
}

/// Raw sockets in the node's network namespace.
public struct NodePackets: PacketSending {
    let sender: VRRPSender
    let announcer: NeighbourAnnouncer

    public init(networkNamespace: String?) {
        sender = VRRPSender(networkNamespace: networkNamespace)
        announcer = NeighbourAnnouncer(networkNamespace: networkNamespace)
    }

    public func send(
        _ advertisement: VRRPAdvertisement, from source: IPAddress, to destinations: [IPAddress], interface: String
    ) throws(NodeNetworkError) {
        try sender.send(advertisement, from: source, to: destinations, interface: interface)
    }

    public func announce(_ address: IPAddress, hardwareAddress: [UInt8], on link: Link) throws(NodeNetworkError) {
        try announcer.announce(address, hardwareAddress: hardwareAddress, on: link)
    }
}
