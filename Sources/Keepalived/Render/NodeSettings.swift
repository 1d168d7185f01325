public import IPAM

/// The node-local half of keepalived's configuration, filled in by the agent. Validated on
/// construction, so the renderer only ever sees safe values.
public struct NodeSettings: Hashable, Sendable {
    public let nodeName: String
    public let interface: String
    /// The node's own addresses on `interface`: VRRP's source, one per family at most.
    public let sourceAddresses: [IPAddress]
    /// Other nodes' addresses; empty means multicast adverts.
    public let unicastPeers: [IPAddress]
    /// Advert interval in milliseconds (keepalived's resolution is 10 ms with VRRPv3).
    public let advertIntervalMilliseconds: Int
    /// keepalived reports every state change here; the agent reads it.
    public let notifyFIFO: String?

    public init(
        nodeName: String, interface: String, sourceAddresses: [IPAddress], unicastPeers: [IPAddress],
        advertIntervalMilliseconds: Int = 200, notifyFIFO: String? = nil
    ) throws(KeepalivedError) {
        try NodeName.validate(nodeName)
        try InterfaceName.validate(interface)
        guard (10...40_950).contains(advertIntervalMilliseconds), advertIntervalMilliseconds % 10 == 0 else {
            throw KeepalivedError(
                .invalidAdvertInterval,
                "advert interval \(advertIntervalMilliseconds) ms must be a multiple of 10 ms between 10 ms and "
                    + "40950 ms (VRRPv3)"
            )
        }
        if let notifyFIFO { try Self.validatePath(notifyFIFO) }
        self.nodeName = nodeName
        self.interface = interface
        self.sourceAddresses = sourceAddresses
        self.unicastPeers = Array(Set(unicastPeers).subtracting(sourceAddresses)).sorted()
        self.advertIntervalMilliseconds = advertIntervalMilliseconds
        self.notifyFIFO = notifyFIFO
    }

    static func validatePath(_ path: String) throws(KeepalivedError) {
        let safe = path.utf8.allSatisfy {
            ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95
                || $0 == 46 || $0 == 47
        }
        guard path.hasPrefix("/"), safe, path.utf8.count < 256 else {
            throw KeepalivedError(
                .invalidPath, "path \"\(path.prefix(64))\" must be absolute and use only A-Z a-z 0-9 - _ . /")
        }
    }
}
