/// An IPAM failure with a stable code for programs and a message an operator can act on.
public struct IPAMError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, for programs to branch on (compared as values; printed as its name).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
            case invalidIPv4Address = "InvalidIPv4Address"
            case invalidIPv6Address = "InvalidIPv6Address"
            case invalidPrefixLength = "InvalidPrefixLength"
            case invalidRange = "InvalidRange"
            case familyMismatch = "FamilyMismatch"
            case overlappingPools = "OverlappingPools"
            case emptyPool = "EmptyPool"
            case addressOutOfPool = "AddressOutOfPool"
            case addressInUse = "AddressInUse"
            case poolExhausted = "PoolExhausted"
            case overflow = "AddressOverflow"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }
        public var description: String { value.rawValue }

        public static let invalidIPv4Address = Code(.invalidIPv4Address)
        public static let invalidIPv6Address = Code(.invalidIPv6Address)
        public static let invalidPrefixLength = Code(.invalidPrefixLength)
        public static let invalidRange = Code(.invalidRange)
        public static let familyMismatch = Code(.familyMismatch)
        public static let overlappingPools = Code(.overlappingPools)
        public static let emptyPool = Code(.emptyPool)
        public static let addressOutOfPool = Code(.addressOutOfPool)
        public static let addressInUse = Code(.addressInUse)
        public static let poolExhausted = Code(.poolExhausted)
        public static let overflow = Code(.overflow)
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
