extension PackedJSON {
    /// A string value in a form that packs smaller than its text and unpacks to exactly that text: every object
    /// has a uid, a resourceVersion and a creationTimestamp (56 of a trimmed Service's bytes as text, 12 packed).
    enum CompactString {
        case uuid(high: UInt64, low: UInt64)
        case timestamp(seconds: UInt64)
        case decimal(UInt64)

        /// Nil unless `string` is written back byte for byte by `uuidText`, `timestampText` or `String(_:)`.
        init?(_ string: String) {
            var string = string
            guard let compact = string.withUTF8({ Self.read($0) }) else { return nil }
            self = compact
        }

        func write(to bytes: inout [UInt8]) {
            switch self {
            case .uuid(let high, let low):
                bytes.append(Tag.uuid.rawValue)
                for half in [high, low] {
                    for shift in stride(from: 56, through: 0, by: -8) {
                        bytes.append(UInt8(truncatingIfNeeded: half >> shift))
                    }
                }
            case .timestamp(let seconds):
                bytes.append(Tag.timestamp.rawValue)
                writeVarint(seconds, to: &bytes)
            case .decimal(let value):
                bytes.append(Tag.decimal.rawValue)
                writeVarint(value, to: &bytes)
            }
        }

        private static func read(_ text: UnsafeBufferPointer<UInt8>) -> Self? {
            switch text.count {
            case 36: uuid(text)
            case 20: timestamp(text)
            case 1...19: decimal(text)
            default: nil
            }
        }

        private static func uuid(_ text: UnsafeBufferPointer<UInt8>) -> Self? {
            var high: UInt64 = 0
            var low: UInt64 = 0
            var digits = 0
            for (index, byte) in text.enumerated() {
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
                if digits < 16 { high = high << 4 | nibble } else { low = low << 4 | nibble }
                digits += 1
            }
            return .uuid(high: high, low: low)
        }

        private static func timestamp(_ text: UnsafeBufferPointer<UInt8>) -> Self? {
            // YYYY-MM-DDTHH:MM:SSZ
            let separators: [(Int, UInt8)] = [
                (4, UInt8(ascii: "-")), (7, UInt8(ascii: "-")), (10, UInt8(ascii: "T")), (13, UInt8(ascii: ":")),
                (16, UInt8(ascii: ":")), (19, UInt8(ascii: "Z")),
            ]
            guard separators.allSatisfy({ text[$0.0] == $0.1 }) else { return nil }
            func number(_ start: Int, _ length: Int) -> Int? {
                var value = 0
                for byte in text[start..<start + length] {
                    guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                    value = value * 10 + Int(byte - UInt8(ascii: "0"))
                }
                return value
            }
            guard let year = number(0, 4), year >= 1970, let month = number(5, 2), (1...12).contains(month),
                let day = number(8, 2), let hour = number(11, 2), let minute = number(14, 2),
                let second = number(17, 2)
            else { return nil }
            let days = daysSinceEpoch(year: year, month: month, day: day)
            let seconds = UInt64(((days * 24 + hour) * 60 + minute) * 60 + second)
            // Day 31 of a 30-day month, hour 24 and the like would come back as another text: kept as text.
            guard timestampText(seconds: seconds).utf8.elementsEqual(text) else { return nil }
            return .timestamp(seconds: seconds)
        }

        private static func decimal(_ text: UnsafeBufferPointer<UInt8>) -> Self? {
            guard text[0] != UInt8(ascii: "0") || text.count == 1 else { return nil }
            var value: UInt64 = 0
            for byte in text {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + UInt64(byte - UInt8(ascii: "0"))
            }
            return .decimal(value)
        }

        static func uuidText(_ bytes: UnsafeBufferPointer<UInt8>.SubSequence) -> String {
            let hex = Array("0123456789abcdef".utf8)
            var text: [UInt8] = []
            text.reserveCapacity(36)
            for (index, byte) in bytes.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
                text.append(hex[Int(byte >> 4)])
                text.append(hex[Int(byte & 0x0f)])
            }
            return String(decoding: text, as: UTF8.self)
        }

        static func timestampText(seconds: UInt64) -> String {
            let days = Int(seconds / 86_400)
            let rest = Int(seconds % 86_400)
            let (year, month, day) = civil(daysSinceEpoch: days)
            func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
            return "\(year)-\(two(month))-\(two(day))T\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))Z"
        }

        /// Howard Hinnant's `days_from_civil`, for years from 1970 on.
        private static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
            let year = month <= 2 ? year - 1 : year
            let era = year / 400
            let yearOfEra = year - era * 400
            let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
            let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
            return era * 146_097 + dayOfEra - 719_468
        }

        /// Its inverse, `civil_from_days`.
        private static func civil(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
            let shifted = days + 719_468
            let era = shifted / 146_097
            let dayOfEra = shifted - era * 146_097
            let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
            let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
            let shiftedMonth = (5 * dayOfYear + 2) / 153
            let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
            let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
            return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
        }
    }
}
