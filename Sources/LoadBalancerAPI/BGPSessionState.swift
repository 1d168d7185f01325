import Foundation

/// What a node's agent publishes about its BGP sessions (Node annotation `keepalived-lb.io/bgp-state`, JSON): per
/// BGPPeer, the session's state, BFD's, and why it is not up; and how many routes the node announces.
public struct BGPSessionState: Codable, Hashable, Sendable {
    public static let annotation = "keepalived-lb.io/bgp-state"

    public struct Peer: Codable, Hashable, Sendable {
        public static let established = "Established"
        /// The BGPPeer cannot be used on this node (bad field, missing Secret); `message` says why.
        public static let invalid = "Invalid"
        /// BIRD is not running.
        public static let down = "Down"

        /// "Established", BIRD's BGP state ("Active", "Connect", "Idle", …), "Invalid" or "Down" (BIRD not running).
        public var session: String
        /// BFD's state ("Up", "Down", "Init") when the peer asks for BFD.
        public var bfd: String?
        /// Why it is not established: BIRD's last error, or what is wrong with the BGPPeer.
        public var message: String?

        public init(session: String, bfd: String? = nil, message: String? = nil) {
            self.session = session
            self.bfd = bfd
            self.message = message
        }

        public var isEstablished: Bool { session == Self.established }
    }

    public var peers: [String: Peer]
    public var routes: Int

    public init(peers: [String: Peer], routes: Int) {
        self.peers = peers
        self.routes = routes
    }

    public init?(annotation: String?) {
        guard let annotation, annotation.utf8.count <= 65_536,
            let state = try? JSONDecoder().decode(Self.self, from: Data(annotation.utf8))
        else { return nil }
        self = state
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}
