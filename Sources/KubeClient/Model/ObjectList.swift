/// A page of a list, with what is needed to fetch the next page or start a watch.
public struct ObjectList<T: KubernetesObject>: Sendable {
    public var items: [T]
    /// The list's resourceVersion: where a watch should start to miss nothing.
    public var resourceVersion: String
    /// Non-empty when more pages follow.
    public var continueToken: String?

    public init(items: [T], resourceVersion: String, continueToken: String?) {
        self.items = items
        self.resourceVersion = resourceVersion
        self.continueToken = continueToken
    }

    init(json: JSONObject) {
        items = json["items"]?.arrayValue?.compactMap { $0.objectValue.map(T.init(json:)) } ?? []
        let metadata = json["metadata"]?.objectValue ?? [:]
        resourceVersion = metadata["resourceVersion"]?.stringValue ?? ""
        let token = metadata["continue"]?.stringValue ?? ""
        continueToken = token.isEmpty ? nil : token
    }
}

/// The server's `Status` object, carried by every API error.
public struct APIStatus: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var code: Int? { self[int: "code"] }
    /// `NotFound`, `Conflict`, `AlreadyExists`, `Forbidden`, `Expired`, `Gone`, `Invalid`, …
    public var reason: String? { self[string: "reason"] }
    public var message: String? { self[string: "message"] }
}
