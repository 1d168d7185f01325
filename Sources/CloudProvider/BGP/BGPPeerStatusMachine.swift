import KubeClient
import LoadBalancerAPI

/// Turns what each node's agent publishes on its Node (`BGPSessionState`) into every BGPPeer's status, and decides
/// which changes deserve an Event: a session lost, failing or refused is a Warning, one (re)established Normal.
/// The first look after a start is quiet for sessions that are up: a controller restart is not news.
struct BGPPeerStatusMachine: Sendable {
    enum Reason: String, Sendable {
        case established = "SessionEstablished"
        case down = "SessionDown"
        case failing = "SessionNotEstablished"
        case invalid = "InvalidPeer"
    }

    struct Event: Hashable, Sendable {
        var peer: String
        var warning: Bool
        var reason: Reason
        var message: String
    }

    /// Peer name → node name → what that node last published for it.
    private var sessions: [String: [String: BGPSessionState.Peer]] = [:]
    private var seeded = false

    /// Agents write their own annotation: what they say is bounded and escaped before it reaches a status or Event.
    static let messageLimit = 256

    /// `published`: node name → its state (nodes without the annotation are absent). Returns the Events due.
    mutating func nodesPublished(_ published: [String: BGPSessionState]) -> [Event] {
        var next: [String: [String: BGPSessionState.Peer]] = [:]
        for (node, state) in published {
            for (peer, session) in state.peers {
                next[peer, default: [:]][node] = session
            }
        }
        var events: [Event] = []
        for (peer, nodes) in next.sorted(by: { $0.key < $1.key }) {
            for (node, session) in nodes.sorted(by: { $0.key < $1.key }) {
                let before = sessions[peer]?[node]
                if let event = Self.event(peer: peer, node: node, before: before, now: session, quiet: !seeded) {
                    events.append(event)
                }
            }
        }
        sessions = next
        seeded = true
        return events
    }

    private static func event(
        peer: String, node: String, before: BGPSessionState.Peer?, now: BGPSessionState.Peer, quiet: Bool
    ) -> Event? {
        let detail = now.message.map { ": " + SafeText.escaped($0, limit: messageLimit) } ?? ""
        if now.isEstablished {
            guard before.map({ !$0.isEstablished }) ?? !quiet else { return nil }
            return Event(
                peer: peer, warning: false, reason: .established,
                message: "node \(node): BGP session established" + (now.bfd.map { ", BFD \($0)" } ?? ""))
        }
        if before?.isEstablished == true {
            return Event(
                peer: peer, warning: true, reason: .down,
                message: "node \(node): BGP session lost, now \(now.session)\(detail)")
        }
        // Never up: worth a Warning once there is a reason (BIRD's error, or why the peer is refused), and again
        // only when the reason changes. A session still connecting has none.
        guard let message = now.message, !message.isEmpty, message != before?.message else { return nil }
        if now.session == BGPSessionState.Peer.invalid {
            return Event(peer: peer, warning: true, reason: .invalid, message: "node \(node)\(detail)")
        }
        return Event(
            peer: peer, warning: true, reason: .failing,
            message: "node \(node): BGP session not established (\(now.session))\(detail)")
    }

    /// The status to write for `peer`: every node that reports a session with it, and one `Established` condition.
    func status(of peer: String, previous: BGPPeer.Status, generation: Int?) -> JSONObject {
        let nodes = (sessions[peer] ?? [:]).sorted { $0.key < $1.key }
        var list: [JSONValue] = []
        for (node, session) in nodes {
            var entry: JSONObject = [
                "name": .string(node), "session": .string(SafeText.escaped(session.session, limit: 64)),
            ]
            if let bfd = session.bfd { entry["bfd"] = .string(SafeText.escaped(bfd, limit: 64)) }
            if let message = session.message, !message.isEmpty {
                entry["message"] = .string(SafeText.escaped(message, limit: Self.messageLimit))
            }
            list.append(.object(entry))
        }
        let established = nodes.filter { $0.value.isEstablished }
        let down = nodes.filter { !$0.value.isEstablished }
        let (value, reason, message): (Bool, String, String)
        if nodes.isEmpty {
            (value, reason, message) = (false, "NoNodes", "no node's agent reports a session with this peer")
        } else if down.isEmpty {
            (value, reason, message) = (true, "Established", "\(established.count) of \(nodes.count) nodes established")
        } else {
            let first = down.prefix(3).map { node, session in
                "\(node): \(session.session)"
                    + (session.message.map { " (" + SafeText.escaped($0, limit: 120) + ")" } ?? "")
            }
            (value, reason, message) = (
                false,
                down.allSatisfy { $0.value.session == BGPSessionState.Peer.invalid } ? "InvalidPeer" : "NotEstablished",
                "\(established.count) of \(nodes.count) nodes established; " + first.joined(separator: "; ")
                    + (down.count > 3 ? "; and \(down.count - 3) more" : "")
            )
        }
        let condition = Condition(
            type: "Established", status: value ? .true : .false, reason: reason, message: message,
            after: previous.conditions.first { $0.type == "Established" }, observedGeneration: generation)
        return [
            "nodes": .array(list), "establishedNodes": .int(Int64(established.count)),
            "conditions": .array([.object(condition.json)]),
        ]
    }
}
