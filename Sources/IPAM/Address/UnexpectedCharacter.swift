/// How an error names the character it stopped at: the whole character, never one byte of it (a full-width
/// digit shown as "ï" sends an operator looking for a character that is not there), with its code point when
/// it is not plain ASCII, and only the code point when it cannot be seen.
enum UnexpectedCharacter {
    /// `bytes` start at the offending character's first byte (UTF-8).
    static func describe(_ bytes: some Collection<UInt8>) -> String {
        guard let scalar = String(decoding: bytes.prefix(4), as: UTF8.self).unicodeScalars.first else { return "" }
        if scalar.isASCII, (0x21...0x7e).contains(scalar.value) { return "\"\(Character(scalar))\"" }
        let hex = String(scalar.value, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        switch scalar.properties.generalCategory {
        case .control, .format, .spaceSeparator, .lineSeparator, .paragraphSeparator, .unassigned, .privateUse,
            .nonspacingMark, .enclosingMark:
            return code + (scalar == " " ? " (a space)" : " (invisible)")
        default:
            return "\"\(Character(scalar))\" (\(code))"
        }
    }
}
