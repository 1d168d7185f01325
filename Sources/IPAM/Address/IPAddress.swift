/// An IPv4 or IPv6 address. IPv4 sorts before IPv6.
public enum IPAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Parses either family; the presence of a colon selects IPv6.
    public init(_ text: some StringProtocol) throws(IPAMError) {
        if text.utf8.contains(UInt8(ascii: ":")) {
            self = .v6(try IPv6Address(text))
        } else {
            self = .v4(try IPv4Address(text))
        }
    }

    /// Builds an address from its family and integer value; the value must fit the family.
    public init(family: IPFamily, value: UInt128) {
        precondition(value <= family.maxValue, "address value out of range for \(family)")
        switch family {
        case .ipv4: self = .v4(IPv4Address(UInt32(value)))
        case .ipv6: self = .v6(IPv6Address(value))
        }
    }

    public var family: IPFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    /// The address as an unsigned integer (IPv4 in the low 32 bits).
    public var value: UInt128 {
        switch self {
        case .v4(let a): UInt128(a.value)
        case .v6(let a): a.value
        }
    }

    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let a): a.description
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        if lhs.family != rhs.family { return lhs.family == .ipv4 }
        return lhs.value < rhs.value
    }
}
