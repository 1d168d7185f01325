/// A code compared as a value and printed as its name. `Domain` is the error it belongs to, so one error's
/// codes cannot be passed to or compared with another's.
public struct ErrorCode<Domain>: Hashable, Sendable, CustomStringConvertible {
    public let description: String

    /// From a (private) enum of the error's code names: each name is written once.
    public init<Name: RawRepresentable<String>>(_ name: Name) {
        description = name.rawValue
    }
}
