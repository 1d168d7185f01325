public import IPAM
public import Keepalived
public import KubeClient

extension NodeRenderInput.Member {
    /// A Node as the agent and `kubectl keepalived render` read it.
    public init(_ node: Node) {
        self.init(
            name: node.metadata.name ?? "", internalAddresses: node.internalAddresses,
            state: NodeVRRPState(annotation: node.metadata.annotations[NodeVRRPState.annotation]))
    }
}

extension Node {
    /// Its InternalIP addresses (unparsable ones skipped): VRRP's source addresses and its peers' destinations.
    public var internalAddresses: [IPAddress] {
        status.addresses.filter { $0.type == .internalIP }.compactMap { $0.address.flatMap { try? IPAddress($0) } }
    }
}
