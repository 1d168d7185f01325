import CNetlink

/// A failed netlink operation, with libnl's error code and message and what to do about it.
public struct NetlinkError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case permissionDenied = "PermissionDenied"
        case noSuchInterface = "NoSuchInterface"
        case noSuchNamespace = "NoSuchNamespace"
        case invalidAddress = "InvalidAddress"
        case failed = "NetlinkFailed"
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

    public var description: String { "\(code.rawValue): \(message)" }
}
