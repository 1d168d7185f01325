/// A standard BGP community (RFC 1997), written "ASN:VALUE" with two 16-bit numbers.
public struct BGPCommunity: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let asn: UInt16
    public let value: UInt16

    public init(parsing text: String) throws(BGPError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.count <= 5 && $0.allSatisfy(\.isASCII) }),
            let asn = UInt16(parts[0]), let value = UInt16(parts[1])
        else {
            throw BGPError(
                .invalidCommunity,
                "community \"\(text.prefix(64))\" is not ASN:VALUE with two numbers 0-65535 (e.g. 64512:100)")
        }
        self.asn = asn
        self.value = value
    }

    public var description: String { "\(asn):\(value)" }
    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.asn, lhs.value) < (rhs.asn, rhs.value) }
}
