public import IPAM
public import Netlink

/// The address operations the agent needs; `AddressManager` provides them over netlink.
public protocol InterfaceAddressing: Sendable {
    func link(holding address: IPAddress) throws(NetlinkError) -> Link
    func addresses(on link: Link?) throws(NetlinkError) -> [InterfaceAddress]
    func remove(_ address: IPAddress, prefixLength: Int?, from link: Link) throws(NetlinkError)
    func link(named name: String) throws(NetlinkError) -> Link
    /// Every interface of the node: published, so the controller knows which pools' interfaces it has.
    func links() throws(NetlinkError) -> [Link]
}

extension AddressManager: InterfaceAddressing {}
