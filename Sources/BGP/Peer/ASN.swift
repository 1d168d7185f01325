/// An autonomous system number (RFC 6793: four octets), as written in asplain.
public struct ASN: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let value: UInt32

    /// Rejects 0 (RFC 7607), 23456 (AS_TRANS, RFC 6793) and 4294967295 (RFC 7300): no session may use them.
    public init(_ value: UInt32) throws(BGPError) {
        guard value != 0, value != 23456, value != UInt32.max else {
            throw BGPError(
                .invalidASN,
                "AS number \(value) is reserved (0, 23456 and 4294967295 cannot be used); use 1-4294967294, "
                    + "e.g. a private one in 64512-65534 or 4200000000-4294967294")
        }
        self.value = value
    }

    /// Reads asplain ("64512"); `field` names where the text came from in the error.
    public init(parsing text: String, field: String) throws(BGPError) {
        guard !text.isEmpty, text.count <= 10, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let value = UInt32(text)
        else {
            throw BGPError(
                .invalidASN, "\(field) \"\(text.prefix(64))\" is not an AS number (a whole number 1-4294967294)")
        }
        try self.init(value)
    }

    public var description: String { String(value) }
    public static func < (lhs: ASN, rhs: ASN) -> Bool { lhs.value < rhs.value }
}
