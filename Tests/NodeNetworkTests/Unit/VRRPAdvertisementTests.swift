import IPAM
import NodeNetwork
import Testing

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
