/// Why a Service's request cannot be honoured (a bad annotation, a pool it may not use, a port another Service
/// of its sharing key holds). The Service gets a Warning event whose reason is the code, and a False condition;
/// nothing else is affected.
public struct ServiceRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, for programs to branch on (compared as values; printed as its name).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case addressInUse = "AddressInUse"
            case dualStackUnavailable = "DualStackUnavailable"
            case ipFamilyMismatch = "IPFamilyMismatch"
            case invalidForwardMethod = "InvalidForwardMethod"
            case invalidRequestedIP = "InvalidRequestedIP"
            case invalidSharingKey = "InvalidSharingKey"
            case noPoolForNamespace = "NoPoolForNamespace"
            case poolNotAllowed = "PoolNotAllowed"
            case poolNotFound = "PoolNotFound"
            case poolNotReady = "PoolNotReady"
            case poolTerminating = "PoolTerminating"
            case sharingAcrossNamespaces = "SharingAcrossNamespaces"
            case sharingPortConflict = "SharingPortConflict"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }
        public var description: String { value.rawValue }

        public static let addressInUse = Code(.addressInUse)
        public static let dualStackUnavailable = Code(.dualStackUnavailable)
        public static let ipFamilyMismatch = Code(.ipFamilyMismatch)
        public static let invalidForwardMethod = Code(.invalidForwardMethod)
        public static let invalidRequestedIP = Code(.invalidRequestedIP)
        public static let invalidSharingKey = Code(.invalidSharingKey)
        public static let noPoolForNamespace = Code(.noPoolForNamespace)
        public static let poolNotAllowed = Code(.poolNotAllowed)
        public static let poolNotFound = Code(.poolNotFound)
        public static let poolNotReady = Code(.poolNotReady)
        public static let poolTerminating = Code(.poolTerminating)
        public static let sharingAcrossNamespaces = Code(.sharingAcrossNamespaces)
        public static let sharingPortConflict = Code(.sharingPortConflict)
    }

    public let code: Code
    /// What happened and what the Service's owner should do about it.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The Warning event's reason and the condition's.
    public var reason: String { code.description }

    public var description: String { "\(code): \(message)" }
}
