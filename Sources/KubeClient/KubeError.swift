public import Errors

/// A failed Kubernetes operation: a stable code to branch on, the server's Status when there was
/// one, and a message that says what to do.
public struct KubeError: CodedError {
    public typealias Code = ErrorCode<KubeError>

    public let code: Code
    public let message: String
    /// The HTTP status, when a response arrived.
    public let httpStatus: Int?
    /// The server's Status object, when it sent one.
    public let status: APIStatus?

    public init(_ code: Code, _ message: String, httpStatus: Int? = nil, status: APIStatus? = nil) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.status = status
    }

    /// Classifies an error response the way client-go's `errors.Is…` helpers do.
    static func from(httpStatus: Int, status: APIStatus?, request: String) -> KubeError {
        let reason = status?.reason ?? ""
        let code: Code
        switch (httpStatus, reason) {
        case (409, "AlreadyExists"): code = .alreadyExists
        case (409, _): code = .conflict
        case (400, _): code = .badRequest
        case (401, _): code = .unauthorized
        case (403, _): code = .forbidden
        case (404, _): code = .notFound
        case (410, _), (_, "Expired"), (_, "Gone"): code = .gone
        case (422, _): code = .invalid
        case (429, _): code = .tooManyRequests
        case (500..., _): code = .server
        default: code = .unexpected
        }
        let detail = status?.message ?? "HTTP \(httpStatus)"
        return KubeError(code, "\(request): \(detail)", httpStatus: httpStatus, status: status)
    }
}

extension ErrorCode where Domain == KubeError {
    public static var configuration: Self { Self(KubeErrorName.configuration) }
    public static var transport: Self { Self(KubeErrorName.transport) }
    public static var timeout: Self { Self(KubeErrorName.timeout) }
    public static var decoding: Self { Self(KubeErrorName.decoding) }
    public static var badRequest: Self { Self(KubeErrorName.badRequest) }
    public static var unauthorized: Self { Self(KubeErrorName.unauthorized) }
    public static var forbidden: Self { Self(KubeErrorName.forbidden) }
    public static var notFound: Self { Self(KubeErrorName.notFound) }
    public static var conflict: Self { Self(KubeErrorName.conflict) }
    public static var alreadyExists: Self { Self(KubeErrorName.alreadyExists) }
    public static var gone: Self { Self(KubeErrorName.gone) }
    public static var invalid: Self { Self(KubeErrorName.invalid) }
    public static var tooManyRequests: Self { Self(KubeErrorName.tooManyRequests) }
    public static var server: Self { Self(KubeErrorName.server) }
    public static var unexpected: Self { Self(KubeErrorName.unexpected) }
}

/// KubeError's code names, each written once.
private enum KubeErrorName: String {
    case configuration = "Configuration"
    case transport = "Transport"
    case timeout = "Timeout"
    case decoding = "Decoding"
    case badRequest = "BadRequest"
    case unauthorized = "Unauthorized"
    case forbidden = "Forbidden"
    case notFound = "NotFound"
    case conflict = "Conflict"
    case alreadyExists = "AlreadyExists"
    case gone = "Gone"
    case invalid = "Invalid"
    case tooManyRequests = "TooManyRequests"
    case server = "ServerError"
    case unexpected = "Unexpected"
}
