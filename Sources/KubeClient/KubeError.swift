/// A failed Kubernetes operation: a stable code to branch on, the server's Status when there was
/// one, and a message that says what to do.
public struct KubeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, for programs to branch on (compared as values; printed as its name).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
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

        private let value: Value
        private init(_ value: Value) { self.value = value }
        public var description: String { value.rawValue }

        public static let configuration = Code(.configuration)
        public static let transport = Code(.transport)
        public static let timeout = Code(.timeout)
        public static let decoding = Code(.decoding)
        public static let badRequest = Code(.badRequest)
        public static let unauthorized = Code(.unauthorized)
        public static let forbidden = Code(.forbidden)
        public static let notFound = Code(.notFound)
        public static let conflict = Code(.conflict)
        public static let alreadyExists = Code(.alreadyExists)
        public static let gone = Code(.gone)
        public static let invalid = Code(.invalid)
        public static let tooManyRequests = Code(.tooManyRequests)
        public static let server = Code(.server)
        public static let unexpected = Code(.unexpected)
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
