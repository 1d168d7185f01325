public import IPAM

/// A VRRPv3 advertisement (RFC 5798 §5.1), IPv4 or IPv6. The agent sends the priority-0 one that keepalived
/// itself sends on a clean stop, on behalf of a keepalived that died without saying so: a backup
/// that receives it takes over after its skew time instead of three advert intervals.
public struct VRRPAdvertisement: Hashable, Sendable {
    public static let ipProtocol: Int32 = 112
    public static let ipv4Multicast = try! IPAddress("224.0.0.18")
    public static let ipv6Multicast = try! IPAddress("ff02::12")

    public let vrid: Int
    public let priority: Int
    /// Max advertisement interval in centiseconds (12 bits).
    public let intervalCentiseconds: Int
    public let addresses: [IPAddress]

    public init(vrid: Int, priority: Int, intervalCentiseconds: Int, addresses: [IPAddress]) {
        self.vrid = vrid
        self.priority = priority
        self.intervalCentiseconds = intervalCentiseconds
        self.addresses = addresses
    }

    /// The VRRP message (no IP header) for the addresses of `source`'s family, its checksum over that
    /// family's pseudo-header (§5.2.8: RFC 791's for IPv4, RFC 8200 §8.1's for IPv6) of `source` → `destination`.
    public func encoded(source: IPAddress, destination: IPAddress) -> [UInt8] {
        let own = addresses.filter { $0.family == source.family }
        var message: [UInt8] = [
            0x31,  // version 3, type 1 (advertisement)
            UInt8(truncatingIfNeeded: vrid), UInt8(truncatingIfNeeded: priority), UInt8(truncatingIfNeeded: own.count),
            UInt8((intervalCentiseconds >> 8) & 0x0f), UInt8(intervalCentiseconds & 0xff),
            0, 0,
        ]
        for address in own { message += Self.bytes(address) }
        var pseudo = Self.bytes(source) + Self.bytes(destination)
        let length = [UInt8(message.count >> 8), UInt8(message.count & 0xff)]
        pseudo +=
            source.family == .ipv4
            ? [0, UInt8(Self.ipProtocol)] + length : [0, 0] + length + [0, 0, 0, UInt8(Self.ipProtocol)]
        let checksum = Self.checksum(pseudo + message)
        message[6] = UInt8(checksum >> 8)
        message[7] = UInt8(checksum & 0xff)
        return message
    }

    /// The Internet checksum (RFC 1071): one's complement of the one's complement sum.
    public static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    public static func bytes(_ address: IPAddress) -> [UInt8] {
        let width = address.family == .ipv4 ? 4 : 16
        return (0..<width).reversed().map { UInt8(truncatingIfNeeded: address.value >> UInt128($0 * 8)) }
    }
}
