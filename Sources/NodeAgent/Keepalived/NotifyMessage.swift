/// One line keepalived writes to its notify FIFO: `INSTANCE "fcp_v4_50" MASTER 200`.
public struct NotifyMessage: Hashable, Sendable {
    public enum State: String, Sendable, CaseIterable {
        case master = "MASTER"
        case backup = "BACKUP"
        case fault = "FAULT"
        case stop = "STOP"
        case deleted = "DELETED"
    }

    public let instance: String
    public let state: State
    public let priority: Int?

    public init(instance: String, state: State, priority: Int?) {
        self.instance = instance
        self.state = state
        self.priority = priority
    }

    /// nil for lines that are not about a VRRP instance (groups, checkers) or are malformed.
    public init?(line: Substring) {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count >= 3, parts[0] == "INSTANCE", parts[1].count >= 2, parts[1].first == "\"",
            parts[1].last == "\"",
            let state = State(rawValue: String(parts[2]))
        else { return nil }
        instance = String(parts[1].dropFirst().dropLast())
        self.state = state
        priority = parts.count > 3 ? Int(parts[3]) : nil
    }
}
