import CNetlink

/// A failed netlink operation, with libnl's error code and message and what to do about it.
public struct NodeNetworkError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, for programs to branch on (compared as values; printed as its name).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case permissionDenied = "PermissionDenied"
            case noSuchInterface = "NoSuchInterface"
            case noSuchNamespace = "NoSuchNamespace"
            case invalidAddress = "InvalidAddress"
            case failed = "NetlinkFailed"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }
        public var description: String { value.rawValue }

        public static let permissionDenied = Code(.permissionDenied)
        public static let noSuchInterface = Code(.noSuchInterface)
        public static let noSuchNamespace = Code(.noSuchNamespace)
        public static let invalidAddress = Code(.invalidAddress)
        public static let failed = Code(.failed)
    }

    public let code: Code
    /// libnl's (positive) NLE_* code, 0 when the error did not come from libnl.
    public let libnlCode: Int32
    public let message: String

    public init(_ code: Code, libnlCode: Int32 = 0, _ message: String) {
        self.code = code
        self.libnlCode = libnlCode
        self.message = message
    }

    /// Maps a negative libnl return value, naming the operation.
    init(libnl result: Int32, _ operation: String) {
        let nle = abs(result)
        let text = String(cString: nl_geterror(Int32(nle)))
        switch nle {
        case NLE_PERM:
            self.init(
                .permissionDenied, libnlCode: nle,
                "\(operation): \(text); the agent needs CAP_NET_ADMIN (run it privileged or add the capability)")
        case NLE_NODEV:
            self.init(.noSuchInterface, libnlCode: nle, "\(operation): \(text); check --interface")
        default:
            self.init(.failed, libnlCode: nle, "\(operation): \(text)")
        }
    }

    public var description: String { "\(code): \(message)" }
}
