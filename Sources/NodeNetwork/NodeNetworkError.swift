import CNetlink
public import Errors

/// A failed netlink operation, with libnl's error code and message and what to do about it.
public struct NodeNetworkError: CodedError {
    public typealias Code = ErrorCode<NodeNetworkError>

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
}

extension ErrorCode where Domain == NodeNetworkError {
    public static var permissionDenied: Self { Self(NodeNetworkErrorName.permissionDenied) }
    public static var noSuchInterface: Self { Self(NodeNetworkErrorName.noSuchInterface) }
    public static var noSuchNamespace: Self { Self(NodeNetworkErrorName.noSuchNamespace) }
    public static var invalidAddress: Self { Self(NodeNetworkErrorName.invalidAddress) }
    public static var failed: Self { Self(NodeNetworkErrorName.failed) }
}

/// NodeNetworkError's code names, each written once.
private enum NodeNetworkErrorName: String {
    case permissionDenied = "PermissionDenied"
    case noSuchInterface = "NoSuchInterface"
    case noSuchNamespace = "NoSuchNamespace"
    case invalidAddress = "InvalidAddress"
    case failed = "NetlinkFailed"
}
