public import Errors

/// Invalid input on its way to the routing daemon's configuration, with what is allowed.
public struct BGPError: CodedError {
    public typealias Code = ErrorCode<BGPError>

    public let code: Code
    /// What happened and what the operator should do about it.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == BGPError {
    public static var invalidASN: Self { Self(BGPErrorName.invalidASN) }
    public static var invalidBFD: Self { Self(BGPErrorName.invalidBFD) }
    public static var invalidCommunity: Self { Self(BGPErrorName.invalidCommunity) }
    public static var invalidPassword: Self { Self(BGPErrorName.invalidPassword) }
    public static var invalidPeer: Self { Self(BGPErrorName.invalidPeer) }
    public static var invalidTimer: Self { Self(BGPErrorName.invalidTimer) }
}

/// BGPError's code names, each written once.
private enum BGPErrorName: String {
    case invalidASN = "InvalidASN"
    case invalidBFD = "InvalidBFD"
    case invalidCommunity = "InvalidCommunity"
    case invalidPassword = "InvalidPassword"
    case invalidPeer = "InvalidPeer"
    case invalidTimer = "InvalidTimer"
}
