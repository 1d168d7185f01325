public import IPAM
public import NodeNetwork

/// The address operations the agent needs; `AddressManager` provides them over netlink.
public protocol InterfaceAddressing: Sendable {
    func link(holding address: IPAddress) throws(NodeNetworkError) -> Link
    func addresses(on link: Link?) throws(NodeNetworkError) -> [InterfaceAddress]
    func remove(_ address: IPAddress, prefixLength: Int?, from link: Link) throws(NodeNetworkError)
    /// The interface's MAC, for the gratuitous ARP or neighbour advertisement after adding a VIP.
    func hardwareAddress(of link: Link) throws(NodeNetworkError) -> [UInt8]
    /// Adds the address; one already there counts as success.
    func add(_ address: IPAddress, prefixLength: Int?, to link: Link) throws(NodeNetworkError)
    func link(named name: String) throws(NodeNetworkError) -> Link
    /// Every interface of the node: published, so the controller knows which pools' interfaces it has.
    func links() throws(NodeNetworkError) -> [Link]
    /// How the node routes each of `addresses` (none: no route): tells a pod on this node from another node's.
    func routes(toward addresses: Set<IPAddress>) throws(NodeNetworkError) -> [IPAddress: Route]
}

extension AddressManager: InterfaceAddressing {}
