public enum IPFamily: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case ipv4 = "IPv4"
    case ipv6 = "IPv6"

    public var description: String { rawValue }

    /// Address width in bits.
    public var bitWidth: Int { self == .ipv4 ? 32 : 128 }

    /// The largest address value of the family, as a 128-bit integer.
    var maxValue: UInt128 { self == .ipv4 ? UInt128(UInt32.max) : UInt128.max }
}
