/// User-written text on its way into an event or a log line: control characters escaped (a
/// newline would start a forged log line) and the length bounded (a 100 KB annotation must not
/// become a 100 KB event).
public enum SafeText {
    /// Kubernetes' own recorders cut event messages at 1 KiB.
    public static let eventMessageLimit = 1024
    public static let logValueLimit = 2048

    /// `text` with control characters as `\n`, `\t`, `\u{1b}`…, at most `limit` UTF-8 bytes.
    public static func escaped(_ text: String, limit: Int) -> String {
        var out = ""
        var bytes = 0
        var consumed = 0
        for scalar in text.unicodeScalars {
            let piece = escape(scalar)
            let size = piece.utf8.count
            if bytes + size > limit {
                return out + "…(\(text.utf8.count - consumed) more bytes)"
            }
            out += piece
            bytes += size
            consumed += UTF8.width(scalar)
        }
        return out
    }

    /// Escaped only; for text whose length the caller already bounds.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        return text.unicodeScalars.map(escape).joined()
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7f, 0x80..<0xa0, 0x2028, 0x2029: true
        default: false
        }
    }

    private static func escape(_ scalar: Unicode.Scalar) -> String {
        guard needsEscape(scalar) else { return String(scalar) }
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        default: return "\\u{\(String(scalar.value, radix: 16))}"
        }
    }
}
