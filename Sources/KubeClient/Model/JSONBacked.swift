/// A typed view over a JSON object. Typed accessors read and write the tree in place, so unknown
/// fields at every level are carried through unchanged.
public protocol JSONBacked: Hashable, Sendable {
    var json: JSONObject { get set }
    init(json: JSONObject)
}

extension JSONBacked {
    public init() { self.init(json: [:]) }

    /// Removes the key when set to nil, so an unset field is absent rather than `null`.
    public subscript(string key: String) -> String? {
        get { json[key]?.stringValue }
        set { json[key] = newValue.map { .string($0) } }
    }

    public subscript(int key: String) -> Int? {
        get { json[key]?.intValue }
        set { json[key] = newValue.map { .int(Int64($0)) } }
    }

    public subscript(bool key: String) -> Bool? {
        get { json[key]?.boolValue }
        set { json[key] = newValue.map { .bool($0) } }
    }

    public subscript(strings key: String) -> [String]? {
        get { json[key]?.arrayValue?.compactMap(\.stringValue) }
        set { json[key] = newValue.map { .array($0.map { .string($0) }) } }
    }

    public subscript(stringMap key: String) -> [String: String]? {
        get { json[key]?.objectValue?.compactMapValues(\.stringValue) }
        set { json[key] = newValue.map { .object($0.mapValues { .string($0) }) } }
    }

    /// A nested object; reading a missing one yields an empty view, writing an empty view removes nothing.
    public subscript<T: JSONBacked>(object key: String, as _: T.Type = T.self) -> T {
        get { T(json: json[key]?.objectValue ?? [:]) }
        set { json[key] = .object(newValue.json) }
    }

    public subscript<T: JSONBacked>(objects key: String, as _: T.Type = T.self) -> [T] {
        get { json[key]?.arrayValue?.compactMap { $0.objectValue.map(T.init(json:)) } ?? [] }
        set { json[key] = .array(newValue.map { .object($0.json) }) }
    }
}
