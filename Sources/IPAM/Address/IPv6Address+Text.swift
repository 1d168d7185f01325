extension IPv6Address {
    static func parse(_ text: String) throws(IPAMError) -> UInt128 {
        func fail(_ why: String) -> IPAMError {
            IPAMError(
                .invalidIPv6Address,
                "\"\(text)\" is not an IPv6 address: \(why); expected RFC 4291 text like 2001:db8::10")
        }
        let bytes = Array(text.utf8)
        if bytes.isEmpty { throw fail("empty") }
        if bytes.contains(UInt8(ascii: "%")) { throw fail("zone identifiers (%…) are not allowed") }
        let colon = UInt8(ascii: ":")

        var doubleColon: Int?
        var i = 0
        while i + 1 < bytes.count {
            if bytes[i] == colon && bytes[i + 1] == colon {
                if doubleColon != nil { throw fail("\"::\" may appear only once") }
                doubleColon = i
                i += 2
            } else {
                i += 1
            }
        }

        func groups(_ part: ArraySlice<UInt8>, allowIPv4Tail: Bool) throws(IPAMError) -> [UInt16] {
            if part.isEmpty { return [] }
            let fields = part.split(separator: colon, omittingEmptySubsequences: false)
            var result: [UInt16] = []
            for (index, field) in fields.enumerated() {
                if field.isEmpty { throw fail("empty group (a single \":\" at the start or end, or \":::\")") }
                if field.contains(UInt8(ascii: ".")) {
                    guard allowIPv4Tail, index == fields.count - 1 else {
                        throw fail("an embedded IPv4 address is only allowed as the last 32 bits")
                    }
                    let value: UInt32
                    do {
                        value = try IPv4Address.parse(Array(field), text: String(decoding: field, as: UTF8.self))
                    } catch { throw fail("embedded IPv4 part: \(error.message)") }
                    result.append(UInt16(value >> 16))
                    result.append(UInt16(truncatingIfNeeded: value))
                    continue
                }
                if field.count > 4 {
                    throw fail("group \"\(String(decoding: field, as: UTF8.self))\" has more than four hex digits")
                }
                var group: UInt16 = 0
                for index in field.indices {
                    let byte = field[index]
                    let digit: UInt8
                    switch byte {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                    case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                    case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                    default: throw fail("unexpected character \(UnexpectedCharacter.describe(field[index...]))")
                    }
                    group = group << 4 | UInt16(digit)
                }
                result.append(group)
            }
            return result
        }

        var all: [UInt16]
        if let dc = doubleColon {
            let head = try groups(bytes[..<dc], allowIPv4Tail: false)
            let tail = try groups(bytes[(dc + 2)...], allowIPv4Tail: true)
            if head.count + tail.count > 7 { throw fail("too many groups around \"::\" (at most 7 besides it)") }
            all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            all = try groups(bytes[...], allowIPv4Tail: true)
            if all.count != 8 { throw fail("\(all.count) groups; 8 are needed unless \"::\" is used") }
        }
        return all.reduce(UInt128(0)) { $0 << 16 | UInt128($1) }
    }

    public var description: String {
        let g = groups
        if isIPv4Mapped {
            return "::ffff:" + IPv4Address(UInt32(truncatingIfNeeded: value)).description
        }
        // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first one on a tie.
        var bestStart = -1
        var bestLength = 1
        var runStart = -1
        for index in 0...8 {
            if index < 8 && g[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength {
                    bestStart = runStart
                    bestLength = index - runStart
                }
                runStart = -1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            g[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}
