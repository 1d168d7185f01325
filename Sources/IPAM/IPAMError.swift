/// An IPAM failure with a stable code for programs and a message an operator can act on.
public struct IPAMError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { name }

        public static let invalidIPv4Address = Code(name: "InvalidIPv4Address")
        public static let invalidIPv6Address = Code(name: "InvalidIPv6Address")
        public static let invalidPrefixLength = Code(name: "InvalidPrefixLength")
        public static let invalidRange = Code(name: "InvalidRange")
        public static let familyMismatch = Code(name: "FamilyMismatch")
        public static let overlappingPools = Code(name: "OverlappingPools")
        public static let emptyPool = Code(name: "EmptyPool")
        public static let addressOutOfPool = Code(name: "AddressOutOfPool")
        public static let addressInUse = Code(name: "AddressInUse")
        public static let poolExhausted = Code(name: "PoolExhausted")
        public static let overflow = Code(name: "AddressOverflow")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
