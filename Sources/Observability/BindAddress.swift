public import Errors

/// `host:port`, `:port` (all interfaces) or `[v6]:port`; `0` turns the endpoint off, as in
/// controller-runtime's `--metrics-bind-address`.
public struct BindAddress: Hashable, Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int

    /// nil for "0" (disabled).
    public init?(parsing text: String, flag: String) throws(EndpointError) {
        if text == "0" { return nil }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw EndpointError(
                .invalidBindAddress,
                "\(flag) \"\(text.prefix(64))\" is not host:port, :port or [ipv6]:port with a port 0-65535 (0 alone "
                    + "disables; host:0 picks a free port)"
            )
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "0.0.0.0" : host
        self.port = port
    }

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The endpoint server could not be set up: a bad address, or one that cannot be bound.
public struct EndpointError: CodedError {
    public typealias Code = ErrorCode<EndpointError>

    public let code: Code
    /// What happened and what the operator should do about it.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == EndpointError {
    public static var bindFailed: Self { Self(EndpointErrorName.bindFailed) }
    public static var invalidBindAddress: Self { Self(EndpointErrorName.invalidBindAddress) }
}

/// EndpointError's code names, each written once.
private enum EndpointErrorName: String {
    case bindFailed = "BindFailed"
    case invalidBindAddress = "InvalidBindAddress"
}
