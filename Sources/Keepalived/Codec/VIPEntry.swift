public import IPAM

/// One VIP and the Service it serves.
public struct VIPEntry: Hashable, Sendable {
    public let address: IPAddress
    public let namespace: String
    public let name: String
    public let forwardMethod: ForwardMethod?

    public init(address: IPAddress, namespace: String, name: String, forwardMethod: ForwardMethod?)
        throws(KeepalivedError)
    {
        try KubernetesName.validateLabel(namespace, what: "namespace")
        try KubernetesName.validateLabel(name, what: "service name")
        self.address = address
        self.namespace = namespace
        self.name = name
        self.forwardMethod = forwardMethod
    }

    public var serviceKey: String { "\(namespace)/\(name)" }
}
