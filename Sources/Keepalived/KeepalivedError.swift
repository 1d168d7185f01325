/// Invalid input on its way to keepalived or its ConfigMap, with what is allowed.
public struct KeepalivedError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, for programs to branch on (compared as values; printed as its name).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Hashable, Sendable {
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

        private let value: Value
        private init(_ value: Value) { self.value = value }
        public var description: String { value.rawValue }

        public static let duplicateVRID = Code(.duplicateVRID)
        public static let invalidAdvertInterval = Code(.invalidAdvertInterval)
        public static let invalidEntry = Code(.invalidEntry)
        public static let invalidForwardMethod = Code(.invalidForwardMethod)
        public static let invalidGroupCount = Code(.invalidGroupCount)
        public static let invalidInstanceAddresses = Code(.invalidInstanceAddresses)
        public static let invalidInterfaceName = Code(.invalidInterfaceName)
        public static let invalidLegacyLedger = Code(.invalidLegacyLedger)
        public static let invalidName = Code(.invalidName)
        public static let invalidNodeName = Code(.invalidNodeName)
        public static let invalidPath = Code(.invalidPath)
        public static let invalidPlan = Code(.invalidPlan)
        public static let invalidPreferredNode = Code(.invalidPreferredNode)
        public static let invalidVRID = Code(.invalidVRID)
        public static let invalidVRIDRange = Code(.invalidVRIDRange)
        public static let unsupportedPlanVersion = Code(.unsupportedPlanVersion)
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
