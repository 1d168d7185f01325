/// A Service's uid as the ledger keeps it: Kubernetes uids are lowercase UUIDs, kept as 16 bytes inline instead of a
/// 36-character string on the heap (10,000 Services: about half a megabyte). Anything else is kept as written.
enum ServiceUID: Hashable, Sendable {
    case uuid(UInt64, UInt64)
    case text(String)

    init(_ text: String) {
        self = Self.parse(text).map { .uuid($0.0, $0.1) } ?? .text(text)
    }

    var text: String {
        switch self {
        case .text(let text): return text
        case .uuid(let high, let low):
            let hex = Self.hex(high, digits: 16) + Self.hex(low, digits: 16)
            var result = ""
            result.reserveCapacity(36)
            for (index, character) in hex.enumerated() {
                if index == 8 || index == 12 || index == 16 || index == 20 { result.append("-") }
                result.append(character)
            }
            return result
        }
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: digits - text.count) + text
    }

    /// The two halves of `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lowercase hex; nil for anything else (which would
    /// not print back the same).
    private static func parse(_ text: String) -> (UInt64, UInt64)? {
        let utf8 = Array(text.utf8)
        guard utf8.count == 36 else { return nil }
        var value: (UInt64, UInt64) = (0, 0)
        var digits = 0
        for (index, byte) in utf8.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                guard byte == UInt8(ascii: "-") else { return nil }
                continue
            }
            let nibble: UInt64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = UInt64(byte - UInt8(ascii: "a") + 10)
            default: return nil
            }
            if digits < 16 { value.0 = value.0 << 4 | nibble } else { value.1 = value.1 << 4 | nibble }
            digits += 1
        }
        return value
    }
}
