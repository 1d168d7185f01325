/// A TCP MD5 signature key (RFC 2385) for a BGP session. Never printed: its description is a placeholder.
public struct BGPPassword: Hashable, Sendable, CustomStringConvertible {
    /// The key as the daemon's configuration quotes it.
    let text: String

    /// 1-80 printable ASCII characters (the kernel's TCP_MD5SIG_MAXKEYLEN), no double quote: BIRD's strings have
    /// no escapes, so a quote or a line break could never be written into its configuration safely.
    public init(_ text: String, source: String) throws(BGPError) {
        let bytes = Array(text.utf8)
        guard (1...80).contains(bytes.count) else {
            throw BGPError(
                .invalidPassword, "the BGP password in \(source) has \(bytes.count) bytes; use 1-80 (TCP MD5 keys)")
        }
        if let bad = bytes.firstIndex(where: { $0 < 0x20 || $0 > 0x7E || $0 == UInt8(ascii: "\"") }) {
            let what =
                switch bytes[bad] {
                case UInt8(ascii: "\""): "a double quote"
                case 0x0A, 0x0D: "a line break"
                case ..<0x20, 0x7F: "a control character"
                default: "a non-ASCII character"
                }
            throw BGPError(
                .invalidPassword,
                "the BGP password in \(source) contains \(what) at byte \(bad + 1); use printable ASCII without "
                    + "double quotes (and set the same key on the router)")
        }
        self.text = text
    }

    public var description: String { "(password)" }
}
