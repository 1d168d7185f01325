import IPAM
import NodeNetwork
import TestLab
import TestTraits
import Testing

/// The address manager against the kernel, inside a namespace each test creates.
@Suite("Netlink address manager in a network namespace", .integration, .tags(.integration))
struct AddressManagerTests {
    @Test func addIsIdempotentRemoveToleratesAbsenceAndListingSeesBoth() throws {
        let lab = try NetworkLab()
        defer { lab.tearDown() }
        let ns = try lab.namespace("nl")
        try mustRun(["ip", "-n", ns, "link", "add", "vip0", "type", "veth", "peer", "name", "vip0p"])
        try mustRun(["ip", "-n", ns, "link", "set", "vip0p", "up"])
        try mustRun(["ip", "-n", ns, "link", "set", "vip0", "up"])
        try mustRun(["ip", "-n", ns, "addr", "add", "192.0.2.10/24", "dev", "vip0"])

        let netlink = try AddressManager(networkNamespace: ns)
        let link = try netlink.link(named: "vip0")
        #expect(try netlink.link(holding: IPAddress("192.0.2.10")) == link)

        let v4 = try IPAddress("198.51.100.7")
        let v6 = try IPAddress("2001:db8::7")
        try netlink.add(v4, to: link)
        try netlink.add(v4, to: link)  // already there: success
        try netlink.add(v6, to: link)
        let listed = try netlink.addresses(on: link)
        #expect(listed.contains { $0.address == v4 && $0.prefixLength == 32 })
        #expect(listed.contains { $0.address == v6 && $0.prefixLength == 128 && !$0.isTentative }, "VIPs skip DAD")
        // The outside view agrees.
        #expect(Set(try lab.addresses(in: ns, interface: "vip0")).isSuperset(of: ["198.51.100.7", "2001:db8::7"]))

        try netlink.replace(v4, prefixLength: 24, on: link)
        #expect(try netlink.addresses(on: link).contains { $0.address == v4 && $0.prefixLength == 24 })

        try netlink.remove(v4, prefixLength: 24, from: link)
        try netlink.remove(v4, from: link)  // absent: success
        try netlink.remove(v6, from: link)
        #expect(try lab.addresses(in: ns, interface: "vip0").filter { !$0.hasPrefix("fe80:") } == ["192.0.2.10"])
    }

    @Test func errorsAreTypedAndNamed() throws {
        let lab = try NetworkLab()
        defer { lab.tearDown() }
        let ns = try lab.namespace("err")
        let netlink = try AddressManager(networkNamespace: ns)
        #expect {
            try netlink.link(named: "nope0")
        } throws: { error in
            (error as? NodeNetworkError)?.code == .noSuchInterface && "\(error)".contains("nope0")
        }
        #expect(throws: NodeNetworkError.self) { try netlink.link(holding: IPAddress("203.0.113.99")) }
        let ghost = Link(index: 9999, name: "ghost")
        #expect {
            try netlink.add(IPAddress("203.0.113.5"), to: ghost)
        } throws: { error in
            guard let error = error as? NodeNetworkError else { return false }
            return error.libnlCode != 0 && error.message.contains("203.0.113.5")
        }
        #expect {
            try AddressManager(networkNamespace: "klbt-does-not-exist")
        } throws: { ($0 as? NodeNetworkError)?.code == .noSuchNamespace }
        #expect(throws: NodeNetworkError.self) {
            try netlink.add(IPAddress("203.0.113.5"), prefixLength: 40, to: ghost)
        }
    }
}

@Suite("VRRP advertisement encoding (no I/O)")
struct VRRPAdvertisementTests {
    /// RFC 5798 §5: version 3, type 1, the VRID, priority, count, 12-bit interval, a checksum that
    /// sums (with the IPv4 pseudo-header) to zero, then the addresses.
    @Test func priorityZeroAdvertLayoutAndChecksum() throws {
        let advert = VRRPAdvertisement(
            vrid: 50, priority: 0, intervalCentiseconds: 20,
            addresses: [try IPAddress("203.0.113.65"), try IPAddress("203.0.113.66")])
        let source = try IPAddress("192.0.2.11")
        let destination = try IPAddress("192.0.2.12")
        let message = advert.encoded(source: source, destination: destination)
        #expect(Array(message[0..<6]) == [0x31, 50, 0, 2, 0, 20])
        #expect(Array(message[8...]) == [203, 0, 113, 65, 203, 0, 113, 66])
        let pseudo: [UInt8] = [192, 0, 2, 11, 192, 0, 2, 12, 0, 112, 0, UInt8(message.count)]
        #expect(VRRPAdvertisement.checksum(pseudo + message) == 0, "checksum verifies over the pseudo-header")
        #expect(
            VRRPAdvertisement(vrid: 1, priority: 0, intervalCentiseconds: 4095, addresses: []).encoded(
                source: source, destination: VRRPAdvertisement.ipv4Multicast)[4...5] == [0x0f, 0xff])
    }

    /// IPv6: only the IPv6 addresses, the checksum over the RFC 8200 pseudo-header (32-bit length,
    /// next header 112).
    @Test func ipv6AdvertChecksumsOverTheIPv6PseudoHeader() throws {
        let advert = VRRPAdvertisement(
            vrid: 10, priority: 0, intervalCentiseconds: 100,
            addresses: [try IPAddress("2001:db8:1::65"), try IPAddress("203.0.113.65")])
        let source = try IPAddress("fe80::1")
        let message = advert.encoded(source: source, destination: VRRPAdvertisement.ipv6Multicast)
        #expect(message.count == 8 + 16 && Array(message[0..<4]) == [0x31, 10, 0, 1])
        let pseudo =
            VRRPAdvertisement.bytes(source) + VRRPAdvertisement.bytes(VRRPAdvertisement.ipv6Multicast)
            + [0, 0, 0, UInt8(message.count), 0, 0, 0, 112]
        #expect(VRRPAdvertisement.checksum(pseudo + message) == 0)
    }
}
