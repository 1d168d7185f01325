/// An IPv6 address. Parses every RFC 4291 text form and prints the RFC 5952 canonical form.
public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let value: UInt128

    public init(_ value: UInt128) { self.value = value }

    public init(_ text: some StringProtocol) throws(IPAMError) {
        value = try Self.parse(String(text))
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }

    /// The eight 16-bit groups, most significant first.
    public var groups: [UInt16] {
        (0..<8).map { UInt16(truncatingIfNeeded: value >> (UInt128(7 - $0) * 16)) }
    }

    /// True for `::ffff:0:0/96`, which RFC 5952 §5 prints with a dotted IPv4 tail.
    public var isIPv4Mapped: Bool { value >> 32 == 0xffff }
}
