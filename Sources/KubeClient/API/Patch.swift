/// How a PATCH body is interpreted by the server.
public enum Patch: Sendable {
    /// RFC 7386 JSON merge patch.
    case merge(JSONValue)
    /// Kubernetes strategic merge patch (lists merged by their patch keys).
    case strategicMerge(JSONValue)
    /// RFC 6902 JSON patch: a list of operations.
    case json([JSONValue])

    /// Sets an object's finalizers, guarded by its resourceVersion so a finalizer someone else added
    /// meanwhile is never lost (409 instead); an empty list removes the field. With `status`, the same merge
    /// also sets the status (a write to the status subresource).
    public static func finalizers(_ finalizers: [String], resourceVersion: String?, status: JSONValue? = nil) -> Patch {
        var body: [String: JSONValue] = [
            "metadata": [
                "finalizers": finalizers.isEmpty ? .null : .array(finalizers.map { .string($0) }),
                "resourceVersion": .string(resourceVersion ?? ""),
            ]
        ]
        if let status { body["status"] = status }
        return .merge(.object(body))
    }

    var contentType: String {
        switch self {
        case .merge: "application/merge-patch+json"
        case .strategicMerge: "application/strategic-merge-patch+json"
        case .json: "application/json-patch+json"
        }
    }

    var body: JSONValue {
        switch self {
        case .merge(let v), .strategicMerge(let v): v
        case .json(let ops): .array(ops)
        }
    }
}
