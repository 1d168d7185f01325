public import IPAM

/// A network interface as the kernel knows it.
public struct Link: Hashable, Sendable, CustomStringConvertible {
    public let index: Int32
    public let name: String

    public init(index: Int32, name: String) {
        self.index = index
        self.name = name
    }

    public var description: String { "\(name)(\(index))" }
}

/// One address on one interface.
public struct InterfaceAddress: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int
    public let interfaceIndex: Int32
    /// IFA_F_* flags (for example tentative while IPv6 duplicate address detection runs).
    public let flags: UInt32

    public init(address: IPAddress, prefixLength: Int, interfaceIndex: Int32, flags: UInt32 = 0) {
        self.address = address
        self.prefixLength = prefixLength
        self.interfaceIndex = interfaceIndex
        self.flags = flags
    }

    public var isTentative: Bool { flags & 0x40 != 0 }
    public var description: String { "\(address)/\(prefixLength)" }
}
