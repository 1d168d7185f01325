/// A failure of the agent itself, with what the operator should check.
public struct AgentError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, for programs to branch on (compared as values; printed as its name).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case keepalivedStartFailed = "KeepalivedStartFailed"
            case noInterface = "NoInterface"
            case notifyFIFOFailed = "NotifyFIFOFailed"
            case stateDirectoryFailed = "StateDirectoryFailed"
            case writeFailed = "WriteFailed"
            case firewallFailed = "FirewallFailed"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }
        public var description: String { value.rawValue }

        public static let keepalivedStartFailed = Code(.keepalivedStartFailed)
        public static let noInterface = Code(.noInterface)
        public static let notifyFIFOFailed = Code(.notifyFIFOFailed)
        public static let stateDirectoryFailed = Code(.stateDirectoryFailed)
        public static let writeFailed = Code(.writeFailed)
        public static let firewallFailed = Code(.firewallFailed)
    }

    public let code: Code
    /// What happened and what the operator should do about it.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
