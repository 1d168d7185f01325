public import Errors

/// Invalid input on its way to keepalived or its ConfigMap, with what is allowed.
public struct KeepalivedError: CodedError {
    public typealias Code = ErrorCode<KeepalivedError>

    public let code: Code
    /// What happened and what the operator should do about it.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == KeepalivedError {
    public static var duplicateVRID: Self { Self(KeepalivedErrorName.duplicateVRID) }
    public static var invalidAdvertInterval: Self { Self(KeepalivedErrorName.invalidAdvertInterval) }
    public static var invalidEntry: Self { Self(KeepalivedErrorName.invalidEntry) }
    public static var invalidForwardMethod: Self { Self(KeepalivedErrorName.invalidForwardMethod) }
    public static var invalidGroupCount: Self { Self(KeepalivedErrorName.invalidGroupCount) }
    public static var invalidInstanceAddresses: Self { Self(KeepalivedErrorName.invalidInstanceAddresses) }
    public static var invalidInterfaceName: Self { Self(KeepalivedErrorName.invalidInterfaceName) }
    public static var invalidLegacyLedger: Self { Self(KeepalivedErrorName.invalidLegacyLedger) }
    public static var invalidName: Self { Self(KeepalivedErrorName.invalidName) }
    public static var invalidNodeName: Self { Self(KeepalivedErrorName.invalidNodeName) }
    public static var invalidPath: Self { Self(KeepalivedErrorName.invalidPath) }
    public static var invalidPlan: Self { Self(KeepalivedErrorName.invalidPlan) }
    public static var invalidPreferredNode: Self { Self(KeepalivedErrorName.invalidPreferredNode) }
    public static var invalidVRID: Self { Self(KeepalivedErrorName.invalidVRID) }
    public static var invalidVRIDRange: Self { Self(KeepalivedErrorName.invalidVRIDRange) }
    public static var unsupportedPlanVersion: Self { Self(KeepalivedErrorName.unsupportedPlanVersion) }
}

/// KeepalivedError's code names, each written once.
private enum KeepalivedErrorName: String {
    case duplicateVRID = "DuplicateVRID"
    case invalidAdvertInterval = "InvalidAdvertInterval"
    case invalidEntry = "InvalidEntry"
    case invalidForwardMethod = "InvalidForwardMethod"
    case invalidGroupCount = "InvalidGroupCount"
    case invalidInstanceAddresses = "InvalidInstanceAddresses"
    case invalidInterfaceName = "InvalidInterfaceName"
    case invalidLegacyLedger = "InvalidLegacyLedger"
    case invalidName = "InvalidName"
    case invalidNodeName = "InvalidNodeName"
    case invalidPath = "InvalidPath"
    case invalidPlan = "InvalidPlan"
    case invalidPreferredNode = "InvalidPreferredNode"
    case invalidVRID = "InvalidVRID"
    case invalidVRIDRange = "InvalidVRIDRange"
    case unsupportedPlanVersion = "UnsupportedPlanVersion"
}
