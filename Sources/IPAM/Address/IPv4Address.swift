/// An IPv4 address. Text form is strict dotted decimal: leading zeros are refused because
/// inet_aton reads them as octal, so `010.0.0.1` would mean different things to different tools.
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    public init(_ text: some StringProtocol) throws(IPAMError) {
        value = try Self.parse(Array(text.utf8), text: String(text))
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }

    public var octets: (UInt8, UInt8, UInt8, UInt8) {
        (
            UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
            UInt8(truncatingIfNeeded: value)
        )
    }

    public var description: String {
        let o = octets
        return "\(o.0).\(o.1).\(o.2).\(o.3)"
    }

    /// Parses dotted-decimal bytes; shared with the IPv6 parser for the embedded-IPv4 form.
    static func parse(_ bytes: [UInt8], text: String) throws(IPAMError) -> UInt32 {
        func fail(_ why: String) -> IPAMError {
            IPAMError(
                .invalidIPv4Address,
                "\"\(text)\" is not an IPv4 address: \(why); expected four decimal octets 0-255 like 192.0.2.10")
        }
        var result: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var parts = 0
        var leadingZero = false
        let terminated = bytes + [UInt8(ascii: ".")]
        for (index, byte) in terminated.enumerated() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if digits == 1 && leadingZero { throw fail("octet \(parts + 1) has a leading zero") }
                if digits == 0 && byte == UInt8(ascii: "0") { leadingZero = true }
                octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                if digits > 3 || octet > 255 { throw fail("octet \(parts + 1) is larger than 255") }
            case UInt8(ascii: "."):
                if digits == 0 { throw fail(parts == 4 ? "trailing dot" : "octet \(parts + 1) is empty") }
                parts += 1
                if parts > 4 { throw fail("more than four octets") }
                result = result << 8 | octet
                octet = 0
                digits = 0
                leadingZero = false
            default:
                throw fail("unexpected character \(UnexpectedCharacter.describe(terminated[index...]))")
            }
        }
        if parts != 4 { throw fail("only \(parts) octet\(parts == 1 ? "" : "s")") }
        return result
    }
}
