/// The one shape of every error the daemons throw: programs branch on `code`, operators act on `message`.
/// Written once so that each error type declares only its codes and what it carries beyond them.
public protocol CodedError: Error, Hashable, Sendable, CustomStringConvertible {
    var code: ErrorCode<Self> { get }
    /// What happened and what the operator should do about it.
    var message: String { get }
}

extension CodedError {
    public var description: String { "\(code): \(message)" }
}
