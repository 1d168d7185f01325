public import IPAM

/// What `birdc show protocols` and `birdc show bfd sessions` say, read into values.
public enum BIRDStatus {
    /// A BGP protocol's state: BIRD's protocol state ("up", "start", "down") and its BGP detail ("Established",
    /// "Active", "Connect", "Idle", …, with the last error after it).
    public struct Session: Hashable, Sendable {
        public let state: String
        public let info: String
        public var isEstablished: Bool { state == "up" && info.hasPrefix("Established") }
    }

    /// The protocols table, by protocol name; lines that are not table rows are left out.
    public static func protocols(_ output: String) -> [String: Session] {
        var result: [String: Session] = [:]
        for line in output.split(separator: "\n").prefix(4096) {
            let columns = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            // Name Proto Table State Since [Info]; the header and BIRD's "0001 …" reply codes are not rows.
            guard columns.count >= 5, columns[0] != "Name", columns[1] == "BGP" else { continue }
            let info = columns.count > 5 ? String(columns[5]).trimmingSpaces : ""  // maxSplits keeps its inner spaces
            result[String(columns[0].prefix(64))] = Session(
                state: String(columns[3].prefix(16)), info: String(info.prefix(200)))
        }
        return result
    }

    /// BFD sessions' states ("Up", "Down", "Init", "AdminDown") by neighbour address.
    public static func bfdSessions(_ output: String) -> [IPAddress: String] {
        var result: [IPAddress: String] = [:]
        for line in output.split(separator: "\n").prefix(4096) {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            guard columns.count >= 3, let address = try? IPAddress(columns[0]) else { continue }
            result[address] = String(columns[2].prefix(16))
        }
        return result
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
