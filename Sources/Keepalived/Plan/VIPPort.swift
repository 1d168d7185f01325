/// A protocol and port a VIP's Services publish: what the agents let through to the VIP (`VIPFirewall`).
public struct VIPPort: Hashable, Sendable, Comparable, CustomStringConvertible {
    public enum Transport: String, Hashable, Sendable, Comparable, CaseIterable {
        case tcp = "TCP"
        case udp = "UDP"
        case sctp = "SCTP"

        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    public let transport: Transport
    public let port: Int

    public init(_ transport: Transport, _ port: Int) throws(KeepalivedError) {
        guard (1...65535).contains(port) else {
            throw KeepalivedError(.invalidPlan, "port \(port) is outside 1-65535")
        }
        self.transport = transport
        self.port = port
    }

    /// `TCP/8080`, as the plan writes it.
    public init(parsing text: String) throws(KeepalivedError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let transport = Transport(rawValue: String(parts[0])), let port = Int(parts[1]) else {
            throw KeepalivedError(
                .invalidPlan, "port \"\(text.prefix(24))\" is not PROTOCOL/PORT with TCP, UDP or SCTP")
        }
        try self.init(transport, port)
    }

    public var description: String { "\(transport.rawValue)/\(port)" }

    public static func < (a: Self, b: Self) -> Bool { (a.transport, a.port) < (b.transport, b.port) }
}
