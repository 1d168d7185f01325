import Errors
import Foundation
public import IPAM

/// Tells the segment that an address now lives at this interface's MAC: a gratuitous ARP request (IPv4) or an
/// unsolicited neighbour advertisement with the override flag (IPv6, RFC 4861 §7.2.6), as keepalived sends when it
/// becomes master. Used for the VIPs the agent holds itself, where keepalived sends nothing.
public struct NeighbourAnnouncer: Sendable {
    public let networkNamespace: String?

    public init(networkNamespace: String? = nil) {
        self.networkNamespace = networkNamespace
    }

    /// `hardwareAddress`: the interface's MAC (6 bytes).
    public func announce(_ address: IPAddress, hardwareAddress: [UInt8], on link: Link) throws(NodeNetworkError) {
        guard hardwareAddress.count == 6 else {
            throw NodeNetworkError(
                .failed, "\(link) has a \(hardwareAddress.count)-byte hardware address, not Ethernet")
        }
        let body = { () throws(NodeNetworkError) in
            if address.family == .ipv4 {
                try Self.gratuitousARP(address, mac: hardwareAddress, link: link)
            } else {
                try Self.unsolicitedAdvertisement(address, mac: hardwareAddress, link: link)
            }
        }
        if let networkNamespace {
            try AddressManager.inNamespace(networkNamespace, body)
        } else {
            try body()
        }
    }

    static let ethernetARP: UInt16 = 0x0806
    static let allNodes = try! IPAddress("ff02::1")

    /// The ARP request keepalived sends: sender and target protocol address both the VIP, to the broadcast MAC.
    static func arpRequest(_ address: IPAddress, mac: [UInt8]) -> [UInt8] {
        let ip = VRRPAdvertisement.bytes(address)
        return [0, 1, 0x08, 0x00, 6, 4, 0, 1] + mac + ip + [UInt8](repeating: 0xff, count: 6) + ip
    }

    /// Type 136, override flag, the VIP as target, its MAC as the target link-layer option; the kernel fills in the
    /// checksum of a raw ICMPv6 socket.
    static func neighbourAdvertisement(_ address: IPAddress, mac: [UInt8]) -> [UInt8] {
        [136, 0, 0, 0, 0x20, 0, 0, 0] + VRRPAdvertisement.bytes(address) + [2, 1] + mac
    }

    private static func gratuitousARP(_ address: IPAddress, mac: [UInt8], link: Link) throws(NodeNetworkError) {
        let fd = socket(AF_PACKET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw VRRPSender.failure("opening a packet socket for gratuitous ARP") }
        defer { close(fd) }
        // struct sockaddr_ll: family, protocol (network order), ifindex, hatype, pkttype, halen, addr[8].
        var destination = [UInt8](repeating: 0, count: 20)
        destination[0] = UInt8(AF_PACKET & 0xff)
        destination[1] = UInt8(AF_PACKET >> 8)
        destination[2] = UInt8(ethernetARP >> 8)
        destination[3] = UInt8(ethernetARP & 0xff)
        withUnsafeBytes(of: link.index) { for (offset, byte) in $0.enumerated() { destination[4 + offset] = byte } }
        destination[11] = 6
        for offset in 12..<18 { destination[offset] = 0xff }
        let packet = arpRequest(address, mac: mac)
        let sent = packet.withUnsafeBytes { buffer in
            destination.withUnsafeBytes { raw in
                sendto(
                    fd, buffer.baseAddress, buffer.count, 0, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self),
                    socklen_t(raw.count))
            }
        }
        guard sent == packet.count else { throw VRRPSender.failure("sending a gratuitous ARP for \(address)") }
    }

    private static func unsolicitedAdvertisement(_ address: IPAddress, mac: [UInt8], link: Link)
        throws(NodeNetworkError)
    {
        let fd = socket(AF_INET6, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(IPPROTO_ICMPV6))
        guard fd >= 0 else { throw VRRPSender.failure("opening an ICMPv6 socket for a neighbour advertisement") }
        defer { close(fd) }
        var hops: Int32 = 255
        var index = UInt32(link.index)
        guard setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_HOPS, &hops, socklen_t(MemoryLayout<Int32>.size)) == 0,
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_IF, &index, socklen_t(MemoryLayout<UInt32>.size)) == 0
        else { throw VRRPSender.failure("setting hop limit 255 on the ICMPv6 socket") }
        var local = sockaddr_in6(address: address, scope: 0)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
        guard bound == 0 else { throw VRRPSender.failure("binding the ICMPv6 socket to \(address)") }
        let message = neighbourAdvertisement(address, mac: mac)
        var remote = sockaddr_in6(address: Self.allNodes, scope: UInt32(link.index))
        let sent = message.withUnsafeBytes { buffer in
            withUnsafePointer(to: &remote) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buffer.baseAddress, buffer.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
        guard sent == message.count else {
            throw VRRPSender.failure("sending a neighbour advertisement for \(address)")
        }
    }
}
