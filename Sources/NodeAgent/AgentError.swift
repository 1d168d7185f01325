public import Errors

/// A failure of the agent itself, with what the operator should check.
public struct AgentError: CodedError {
    public typealias Code = ErrorCode<AgentError>

    public let code: Code
    /// What happened and what the operator should do about it.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == AgentError {
    public static var keepalivedStartFailed: Self { Self(AgentErrorName.keepalivedStartFailed) }
    public static var noInterface: Self { Self(AgentErrorName.noInterface) }
    public static var notifyFIFOFailed: Self { Self(AgentErrorName.notifyFIFOFailed) }
    public static var stateDirectoryFailed: Self { Self(AgentErrorName.stateDirectoryFailed) }
    public static var writeFailed: Self { Self(AgentErrorName.writeFailed) }
    public static var firewallFailed: Self { Self(AgentErrorName.firewallFailed) }
}

/// AgentError's code names, each written once.
private enum AgentErrorName: String {
    case keepalivedStartFailed = "KeepalivedStartFailed"
    case noInterface = "NoInterface"
    case notifyFIFOFailed = "NotifyFIFOFailed"
    case stateDirectoryFailed = "StateDirectoryFailed"
    case writeFailed = "WriteFailed"
    case firewallFailed = "FirewallFailed"
}
