/// Invalid input on its way to the routing daemon's configuration, with what is allowed.
public struct BGPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, for programs to branch on (compared as values; printed as its name).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case invalidASN = "InvalidASN"
            case invalidBFD = "InvalidBFD"
            case invalidCommunity = "InvalidCommunity"
            case invalidPassword = "InvalidPassword"
            case invalidPeer = "InvalidPeer"
            case invalidTimer = "InvalidTimer"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }
        public var description: String { value.rawValue }

        public static let invalidASN = Code(.invalidASN)
        public static let invalidBFD = Code(.invalidBFD)
        public static let invalidCommunity = Code(.invalidCommunity)
        public static let invalidPassword = Code(.invalidPassword)
        public static let invalidPeer = Code(.invalidPeer)
        public static let invalidTimer = Code(.invalidTimer)
    }

    public let code: Code
    /// What happened and what the operator should do about it.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
