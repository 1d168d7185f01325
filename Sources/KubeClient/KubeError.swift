/// A failed Kubernetes operation: a stable code to branch on, the server's Status when there was
/// one, and a message that says what to do.
public struct KubeError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }

        public static let configuration = Code(name: "Configuration")
        public static let transport = Code(name: "Transport")
        public static let timeout = Code(name: "Timeout")
        public static let decoding = Code(name: "Decoding")
        public static let badRequest = Code(name: "BadRequest")
        public static let unauthorized = Code(name: "Unauthorized")
        public static let forbidden = Code(name: "Forbidden")
        public static let notFound = Code(name: "NotFound")
        public static let conflict = Code(name: "Conflict")
        public static let alreadyExists = Code(name: "AlreadyExists")
        public static let gone = Code(name: "Gone")
        public static let invalid = Code(name: "Invalid")
        public static let tooManyRequests = Code(name: "TooManyRequests")
        public static let server = Code(name: "ServerError")
        public static let unexpected = Code(name: "Unexpected")
    }

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

    public var description: String { "\(code): \(message)" }
}
