// Every user of the client reads and writes `JSONValue`: it comes with the client.
public import Foundation
@_exported public import JSON

extension JSONValue {
    /// Compact JSON bytes with sorted keys, as `Data` (request bodies, golden tests, diffs).
    public func serialized() throws -> Data {
        Data(try serializedBytes())
    }
}
