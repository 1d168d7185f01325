public import Errors

/// An IPAM failure with a stable code for programs and a message an operator can act on.
public struct IPAMError: CodedError {
    public typealias Code = ErrorCode<IPAMError>

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == IPAMError {
    public static var invalidIPv4Address: Self { Self(IPAMErrorName.invalidIPv4Address) }
    public static var invalidIPv6Address: Self { Self(IPAMErrorName.invalidIPv6Address) }
    public static var invalidPrefixLength: Self { Self(IPAMErrorName.invalidPrefixLength) }
    public static var invalidRange: Self { Self(IPAMErrorName.invalidRange) }
    public static var familyMismatch: Self { Self(IPAMErrorName.familyMismatch) }
    public static var overlappingPools: Self { Self(IPAMErrorName.overlappingPools) }
    public static var emptyPool: Self { Self(IPAMErrorName.emptyPool) }
    public static var addressOutOfPool: Self { Self(IPAMErrorName.addressOutOfPool) }
    public static var addressInUse: Self { Self(IPAMErrorName.addressInUse) }
    public static var poolExhausted: Self { Self(IPAMErrorName.poolExhausted) }
    public static var overflow: Self { Self(IPAMErrorName.overflow) }
}

/// IPAMError's code names, each written once.
private enum IPAMErrorName: String {
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
