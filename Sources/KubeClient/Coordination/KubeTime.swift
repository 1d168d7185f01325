public import Foundation

/// RFC 3339 timestamps as the API writes them: `Time` to the second, `MicroTime` to the microsecond.
public enum KubeTime {
    public static func format(_ date: Date, micro: Bool = false) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // Digits by hand: String(format:) goes through Foundation's locale machinery on every call.
        var text = ""
        text.reserveCapacity(27)
        func append(_ value: Int, width: Int) {
            var digits = String(value)
            if digits.count < width { digits = String(repeating: "0", count: width - digits.count) + digits }
            text += digits
        }
        append(Int(parts.tm_year) + 1900, width: 4)
        text += "-"
        append(Int(parts.tm_mon) + 1, width: 2)
        text += "-"
        append(Int(parts.tm_mday), width: 2)
        text += "T"
        append(Int(parts.tm_hour), width: 2)
        text += ":"
        append(Int(parts.tm_min), width: 2)
        text += ":"
        append(Int(parts.tm_sec), width: 2)
        if micro {
            text += "."
            append(Int((date.timeIntervalSince1970 - Double(seconds)) * 1_000_000) % 1_000_000, width: 6)
        }
        return text + "Z"
    }

    /// Parses `2026-11-25T08:20:11Z`, with optional fraction and `±hh:mm` offset; nil when malformed.
    public static func parse(_ text: String) -> Date? {
        let scalars = Array(text.utf8)
        guard scalars.count >= 20 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                guard i < scalars.count, (48...57).contains(scalars[i]) else { return nil }
                value = value * 10 + Int(scalars[i] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < scalars.count, scalars[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            while index < scalars.count, (48...57).contains(scalars[index]) {
                fraction += Double(scalars[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offset = 0
        guard index < scalars.count else { return nil }
        if scalars[index] == UInt8(ascii: "Z") || scalars[index] == UInt8(ascii: "z") {
            offset = 0
        } else if scalars[index] == UInt8(ascii: "+") || scalars[index] == UInt8(ascii: "-") {
            guard let h = number((index + 1)..<(index + 3)), let m = number((index + 4)..<(index + 6)) else {
                return nil
            }
            offset = (h * 3600 + m * 60) * (scalars[index] == UInt8(ascii: "-") ? -1 : 1)
        } else {
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let epoch = timegm(&parts)
        return Date(timeIntervalSince1970: Double(epoch) - Double(offset) + fraction)
    }
}
