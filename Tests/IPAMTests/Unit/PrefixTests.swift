import IPAM
import Testing

@Suite("CIDRs and ranges")
struct PrefixTests {
    @Test(
        "host bits are masked like the predecessor, and reported",
        arguments: [
            ("10.210.2.100/26", "10.210.2.64/26", true),
            ("10.210.1.64/26", "10.210.1.64/26", false),
            ("192.0.2.1/32", "192.0.2.1/32", false),
            ("0.0.0.0/0", "0.0.0.0/0", false),
            ("2001:db8::1/64", "2001:db8::/64", true),
            ("2001:db8::/32", "2001:db8::/32", false),
            ("::/0", "::/0", false),
        ])
    func normalise(text: String, canonical: String, dropped: Bool) throws {
        let parsed = try CIDR.parse(text)
        #expect(parsed.cidr.description == canonical)
        #expect(parsed.droppedHostBits == dropped)
    }

    @Test(
        "bad CIDRs",
        arguments: [
            ("10.0.0.0", "missing \"/length\""), ("10.0.0.0/33", "out of range"), ("2001:db8::/129", "out of range"),
            ("10.0.0.0/", "not a decimal"), ("10.0.0.0/-1", "not a decimal"), ("10.0.0.0/08", "not a decimal"),
            ("10.0.0.0/x", "not a decimal"), ("10.0.0/8", "only 3 octets"),
        ])
    func invalid(text: String, reason: String) {
        #expect {
            try CIDR(text)
        } throws: { error in
            (error as! IPAMError).message.contains(reason)
        }
    }

    @Test func sizes() throws {
        #expect(try CIDR("10.0.0.0/8").size.description == "16777216")
        #expect(try CIDR("2001:db8::/64").size.description == "18446744073709551616")
        #expect(try CIDR("::/0").size.description == "340282366920938463463374607431768211456")
        #expect(try CIDR("::/0").size.exactValue == nil)
        #expect(try CIDR("10.210.1.64/26").last.description == "10.210.1.127")
        #expect(try CIDR("10.210.1.64/26").contains(IPAddress("10.210.1.100")))
        #expect(try !CIDR("10.210.1.64/26").contains(IPAddress("10.210.1.128")))
    }

    @Test func ranges() throws {
        let range = try AddressRange("192.0.2.10 - 192.0.2.20")
        #expect(range.size == AddressCount(11))
        #expect(range.description == "192.0.2.10-192.0.2.20")
        #expect(
            try AddressRange("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").size.description
                == "340282366920938463463374607431768211456")
        #expect(
            throws: IPAMError(.invalidRange, "range 192.0.2.20-192.0.2.10 is backwards; write the lower address first")
        ) {
            try AddressRange("192.0.2.20-192.0.2.10")
        }
        #expect { try AddressRange("192.0.2.1-2001:db8::1") } throws: { ($0 as! IPAMError).code == .familyMismatch }
        #expect { try AddressRange("192.0.2.1-192.0.2.2-192.0.2.3") } throws: {
            ($0 as! IPAMError).code == .invalidRange
        }
    }

    @Test func countArithmetic() {
        let full = AddressCount(.max) + AddressCount(1)
        #expect(full.description == "340282366920938463463374607431768211456")
        #expect(full - AddressCount(1) == AddressCount(.max))
        #expect(AddressCount(3) - AddressCount(5) == .zero)
        #expect((full + full).description == "680564733841876926926749214863536422912")
    }
}
