import IPAM
import Testing

@Suite("Address text forms")
struct AddressParsingTests {
    @Test(
        "IPv4 accepted forms",
        arguments: [
            ("0.0.0.0", UInt32(0)),
            ("192.0.2.1", 0xC000_0201),
            ("255.255.255.255", 0xFFFF_FFFF),
            ("10.210.1.65", 0x0AD2_0141),
        ])
    func ipv4Valid(text: String, value: UInt32) throws {
        let address = try IPv4Address(text)
        #expect(address.value == value)
        #expect(address.description == text)
    }

    /// The character an error names is the one typed (a full-width digit, a zero-width space), never one of its
    /// UTF-8 bytes shown as a Latin-1 letter.
    @Test(
        "Errors name whole characters",
        arguments: [
            ("1.2.3.\u{FF11}", "unexpected character \"\u{FF11}\" (U+FF11)"),
            ("192.0.2.1\u{200B}", "unexpected character U+200B (invisible)"),
            (" 1.2.3.4", "unexpected character U+0020 (a space)"),
            ("1.2.3.a", "unexpected character \"a\""),
            ("2001:db8::\u{0430}", "unexpected character \"\u{0430}\" (U+0430)"),
            ("2001:db8::1\u{200B}", "unexpected character U+200B (invisible)"),
        ])
    func errorsNameWholeCharacters(text: String, says: String) {
        #expect {
            try IPAddress(text)
        } throws: { error in
            let message = (error as? IPAMError)?.message ?? ""
            return message.contains(says) && !message.contains("\u{EF}") && !message.contains("\u{E2}")
        }
    }

    @Test(
        "IPv4 rejected forms",
        arguments: [
            ("", "octet 1 is empty"), ("1.2.3", "only 3 octets"), ("1.2.3.4.5", "more than four"),
            ("256.1.1.1", "larger than 255"), ("01.2.3.4", "leading zero"), ("1..2.3", "octet 2 is empty"),
            ("1.2.3.4.", "trailing dot"), (" 1.2.3.4", "unexpected character"), ("1.2.3.a", "unexpected character"),
            ("1234.1.1.1", "larger than 255"),
        ])
    func ipv4Invalid(text: String, reason: String) {
        #expect {
            try IPv4Address(text)
        } throws: { error in
            let e = error as! IPAMError
            return e.code == .invalidIPv4Address && e.message.contains(reason) && e.message.contains("\"\(text)\"")
        }
    }

    @Test(
        "IPv6 parses every RFC 4291 form and prints RFC 5952",
        arguments: [
            ("2001:db8:0:0:0:0:0:1", "2001:db8::1"),
            ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
            ("::", "::"),
            ("::1", "::1"),
            ("1::", "1::"),
            ("2001:db8::", "2001:db8::"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
            ("::FFFF:c000:0201", "::ffff:192.0.2.1"),
            ("::192.0.2.1", "::c000:201"),
            ("64:ff9b::198.51.100.7", "64:ff9b::c633:6407"),
            ("0:0:0:0:0:0:192.0.2.1", "::c000:201"),
            ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
            ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
            ("fe80::0:0", "fe80::"),
        ])
    func ipv6Forms(text: String, canonical: String) throws {
        let address = try IPv6Address(text)
        #expect(address.description == canonical)
        #expect(try IPv6Address(canonical) == address)
    }

    @Test(
        "IPv6 rejected forms",
        arguments: [
            ("", "empty"), (":::", "empty group"), ("1::2::3", "only once"), (":1::", "empty group"),
            ("1:2:3:4:5:6:7", "7 groups"), ("1:2:3:4:5:6:7:8:9", "9 groups"), ("12345::", "more than four hex digits"),
            ("fe80::1%eth0", "zone identifiers"), ("2001:db8::g", "unexpected character"),
            ("1:2:3:4:5:6:7::8", "too many groups"), ("::1.2.3.4:5", "last 32 bits"),
            ("::256.1.1.1", "larger than 255"),
            ("1:2:3:4:5:6:7:8:", "empty group"),
        ])
    func ipv6Invalid(text: String, reason: String) {
        #expect {
            try IPv6Address(text)
        } throws: { error in
            let e = error as! IPAMError
            return e.code == .invalidIPv6Address && e.message.contains(reason)
        }
    }

    @Test func familySelectionAndOrdering() throws {
        let v4 = try IPAddress("192.0.2.9")
        let v6 = try IPAddress("2001:db8::9")
        #expect(v4.family == .ipv4 && v6.family == .ipv6)
        #expect(v4 < v6)
        #expect(try IPAddress("192.0.2.9") < IPAddress("192.0.2.10"))
    }

    @Test func arithmetic() throws {
        let a = try IPAddress("192.0.2.255")
        #expect(try a.adding(1).description == "192.0.3.0")
        #expect(try a.subtracting(255).description == "192.0.2.0")
        #expect(try a.distance(to: IPAddress("192.0.3.4")) == 5)
        #expect(throws: IPAMError.self) { try IPAddress("255.255.255.255").adding(1) }
        #expect(throws: IPAMError.self) { try IPAddress("0.0.0.0").subtracting(1) }
        #expect(throws: IPAMError.self) { try IPAddress("::").distance(to: IPAddress("0.0.0.1")) }
        #expect(try IPAddress("2001:db8::ffff").adding(1).description == "2001:db8::1:0")
        #expect(throws: IPAMError.self) { try IPAddress("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").adding(1) }
    }
}
