/// Invalid input on its way to keepalived or its ConfigMap, with what is allowed.
public struct KeepalivedError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: String
    public let message: String

    public init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
