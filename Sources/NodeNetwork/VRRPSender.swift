import Errors
import Foundation
public import IPAM

/// Sends VRRP advertisements from the node (in its network namespace when it has one): raw
/// socket, IP protocol 112, TTL 255 (RFC 5798 §5.1.1.3; receivers drop anything else).
public struct VRRPSender: Sendable {
    public let networkNamespace: String?

    public init(networkNamespace: String? = nil) {
        self.networkNamespace = networkNamespace
    }

    /// Sends `advertisement` from `source` on `interface` to each destination (unicast peers, or
    /// the VRRP multicast group), all of one family. For IPv6 multicast the source is the
    /// interface's link-local address (RFC 5798 §5.1.2.1).
    public func send(
        _ advertisement: VRRPAdvertisement, from source: IPAddress, to destinations: [IPAddress], interface: String
    ) throws(NodeNetworkError) {
        guard destinations.allSatisfy({ $0.family == source.family }) else {
            throw NodeNetworkError(.invalidAddress, "VRRP advertisement from \(source) to another family's address")
        }
        let body = { () throws(NodeNetworkError) in
            if source.family == .ipv4 {
                try Self.sendAll(advertisement, from: source, to: destinations, interface: interface)
            } else {
                try Self.sendAllIPv6(advertisement, from: source, to: destinations, interface: interface)
            }
        }
        if let networkNamespace {
            try AddressManager.inNamespace(networkNamespace, body)
        } else {
            try body()
        }
    }

    private static func sendAll(
        _ advertisement: VRRPAdvertisement, from source: IPAddress, to destinations: [IPAddress], interface: String
    ) throws(NodeNetworkError) {
        let fd = socket(AF_INET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), VRRPAdvertisement.ipProtocol)
        guard fd >= 0 else { throw failure("opening a raw VRRP socket") }
        defer { close(fd) }
        var ttl: Int32 = 255
        var loop: UInt8 = 0
        var multicastTTL: UInt8 = 255
        guard setsockopt(fd, Int32(IPPROTO_IP), IP_TTL, &ttl, socklen_t(MemoryLayout<Int32>.size)) == 0,
            setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, &multicastTTL, 1) == 0,
            setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, &loop, 1) == 0
        else { throw failure("setting TTL 255 on the VRRP socket") }
        let bound = interface.withCString { name in
            setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, socklen_t(strlen(name) + 1))
        }
        guard bound == 0 else { throw failure("binding the VRRP socket to \(interface)") }
        var local = sockaddr_in(family: source)
        let sourceBound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard sourceBound == 0 else { throw failure("binding the VRRP socket to \(source)") }
        var multicastInterface = in_addr(s_addr: local.sin_addr.s_addr)
        guard
            setsockopt(
                fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &multicastInterface, socklen_t(MemoryLayout<in_addr>.size)) == 0
        else { throw failure("choosing the multicast interface by \(source)") }

        for destination in destinations {
            let message = advertisement.encoded(source: source, destination: destination)
            var remote = sockaddr_in(family: destination)
            let sent = message.withUnsafeBytes { buffer in
                withUnsafePointer(to: &remote) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, buffer.baseAddress, buffer.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            guard sent == message.count else { throw failure("sending a VRRP advertisement to \(destination)") }
        }
    }

    private static func sendAllIPv6(
        _ advertisement: VRRPAdvertisement, from source: IPAddress, to destinations: [IPAddress], interface: String
    ) throws(NodeNetworkError) {
        let fd = socket(
            AF_INET6, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), VRRPAdvertisement.ipProtocol)
        guard fd >= 0 else { throw failure("opening a raw IPv6 VRRP socket") }
        defer { close(fd) }
        let index = if_nametoindex(interface)
        guard index != 0 else { throw failure("finding interface \(interface)") }
        var hops: Int32 = 255
        var loop: UInt32 = 0
        var multicastInterface = UInt32(index)
        guard setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_UNICAST_HOPS, &hops, socklen_t(MemoryLayout<Int32>.size)) == 0,
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_HOPS, &hops, socklen_t(MemoryLayout<Int32>.size)) == 0,
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_LOOP, &loop, socklen_t(MemoryLayout<UInt32>.size)) == 0,
            setsockopt(
                fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_IF, &multicastInterface, socklen_t(MemoryLayout<UInt32>.size))
                == 0
        else { throw failure("setting hop limit 255 on the IPv6 VRRP socket") }
        let bound = interface.withCString { name in
            setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, socklen_t(strlen(name) + 1))
        }
        guard bound == 0 else { throw failure("binding the IPv6 VRRP socket to \(interface)") }
        var local = sockaddr_in6(address: source, scope: index)
        let sourceBound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
        guard sourceBound == 0 else { throw failure("binding the IPv6 VRRP socket to \(source)") }
        for destination in destinations {
            // Our checksum, over the IPv6 pseudo-header: a raw socket sends the message as given.
            let message = advertisement.encoded(source: source, destination: destination)
            var remote = sockaddr_in6(address: destination, scope: index)
            let sent = message.withUnsafeBytes { buffer in
                withUnsafePointer(to: &remote) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, buffer.baseAddress, buffer.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                    }
                }
            }
            guard sent == message.count else { throw failure("sending a VRRP advertisement to \(destination)") }
        }
    }

    static func failure(_ what: String) -> NodeNetworkError {
        let failure = SystemCallError(what)
        let denied = failure.errnoCode == EPERM || failure.errnoCode == EACCES
        return NodeNetworkError(denied ? .permissionDenied : .failed, "\(failure)")
    }
}

extension sockaddr_in {
    init(family address: IPAddress) {
        self.init()
        sin_family = sa_family_t(AF_INET)
        let bytes = VRRPAdvertisement.bytes(address)
        // Network byte order: the bytes as they appear in the address.
        sin_addr.s_addr = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
    }
}

extension sockaddr_in6 {
    /// Link-local and multicast link-scope addresses need the interface as their scope.
    init(address: IPAddress, scope: UInt32) {
        self.init()
        sin6_family = sa_family_t(AF_INET6)
        let bytes = VRRPAdvertisement.bytes(address)
        withUnsafeMutableBytes(of: &sin6_addr) { raw in
            for (offset, byte) in bytes.enumerated() { raw[offset] = byte }
        }
        let linkScoped = bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80 || bytes[0] == 0xff && bytes[1] & 0x0f == 0x02
        sin6_scope_id = linkScoped ? scope : 0
    }
}
