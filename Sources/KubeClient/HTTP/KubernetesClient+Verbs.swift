import Foundation
import NIOCore
import NIOHTTP1

/// How a PATCH body is interpreted by the server.
public enum Patch: Sendable {
    /// RFC 7386 JSON merge patch.
    case merge(JSONValue)
    /// Kubernetes strategic merge patch (lists merged by their patch keys).
    case strategicMerge(JSONValue)
    /// RFC 6902 JSON patch: a list of operations.
    case json([JSONValue])

    /// Sets an object's finalizers, guarded by its resourceVersion so a finalizer someone else added
    /// meanwhile is never lost (409 instead); an empty list removes the field.
    public static func finalizers(_ finalizers: [String], resourceVersion: String?) -> Patch {
        .merge([
            "metadata": [
                "finalizers": finalizers.isEmpty ? .null : .array(finalizers.map { .string($0) }),
                "resourceVersion": .string(resourceVersion ?? ""),
            ]
        ])
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

public struct ListOptions: Sendable {
    public var labelSelector: String?
    public var fieldSelector: String?
    public var limit: Int?
    public var continueToken: String?

    public init(
        labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil, continueToken: String? = nil
    ) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
        self.continueToken = continueToken
    }

    var query: [(String, String)] {
        var query: [(String, String)] = []
        if let labelSelector { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
        if let limit { query.append(("limit", String(limit))) }
        if let continueToken { query.append(("continue", continueToken)) }
        return query
    }
}

extension KubernetesClient {
    public func get<T: KubernetesObject>(_ type: T.Type, namespace: String? = nil, name: String) async throws(KubeError)
        -> T
    {
        let path = T.resource.path(namespace: namespace, name: name)
        return try decode(T.self, try await send(.GET, path), request: "GET \(path)")
    }

    /// One page of a list. `namespace` nil lists across all namespaces.
    public func list<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, options: ListOptions = ListOptions()
    ) async throws(KubeError) -> ObjectList<T> {
        let path = T.resource.path(namespace: namespace)
        let bytes = try await send(.GET, path, query: options.query)
        return ObjectList(json: try Self.jsonObject(bytes, request: "GET \(path)"))
    }

    /// Every page of a list, `pageSize` items at a time. The result's resourceVersion is the
    /// first page's, which is where a watch must start.
    public func listAll<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, options: ListOptions = ListOptions(), pageSize: Int = 500
    ) async throws(KubeError) -> ObjectList<T> {
        var items: [T] = []
        let version = try await listPages(T.self, namespace: namespace, options: options, pageSize: pageSize) {
            items += $0
        }
        return ObjectList(items: items, resourceVersion: version, continueToken: nil)
    }

    /// Hands each page to `body` as it arrives and returns the first page's resourceVersion: a
    /// caller that keeps a reduced copy of each object never holds thousands of whole ones at once.
    /// Runs on the caller's actor, so `body` may keep what it reduces in that actor's state.
    public func listPages<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, options: ListOptions = ListOptions(), pageSize: Int = 500,
        isolation: isolated (any Actor)? = #isolation,
        _ body: ([T]) -> Void
    ) async throws(KubeError) -> String {
        var options = options
        options.limit = pageSize
        options.continueToken = nil
        let first = try await list(T.self, namespace: namespace, options: options)
        var token = first.continueToken
        body(first.items)
        while let next = token {
            options.continueToken = next
            let page = try await list(T.self, namespace: namespace, options: options)
            token = page.continueToken
            body(page.items)
        }
        return first.resourceVersion
    }

    public func create<T: KubernetesObject>(_ object: T, namespace: String? = nil) async throws(KubeError) -> T {
        var object = object
        object.stampTypeMeta()
        let ns = namespace ?? object.metadata.namespace
        let path = T.resource.path(namespace: ns)
        return try decode(
            T.self, try await send(.POST, path, body: try Self.encode(.object(object.json))), request: "POST \(path)")
    }

    /// PUT with the object's resourceVersion: a stale one fails with `.conflict`.
    public func update<T: KubernetesObject>(_ object: T) async throws(KubeError) -> T {
        try await put(object, subresource: nil)
    }

    /// PUT to the status subresource.
    public func updateStatus<T: KubernetesObject>(_ object: T) async throws(KubeError) -> T {
        try await put(object, subresource: "status")
    }

    private func put<T: KubernetesObject>(_ object: T, subresource: String?) async throws(KubeError) -> T {
        var object = object
        object.stampTypeMeta()
        guard let name = object.metadata.name else {
            throw KubeError(.badRequest, "update of a \(T.resource.kind) without metadata.name")
        }
        let path = T.resource.path(namespace: object.metadata.namespace, name: name, subresource: subresource)
        return try decode(
            T.self, try await send(.PUT, path, body: try Self.encode(.object(object.json))), request: "PUT \(path)")
    }

    public func patch<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, name: String, _ patch: Patch, subresource: String? = nil
    ) async throws(KubeError) -> T {
        let path = T.resource.path(namespace: namespace, name: name, subresource: subresource)
        let bytes = try await send(.PATCH, path, body: try Self.encode(patch.body), contentType: patch.contentType)
        return try decode(T.self, bytes, request: "PATCH \(path)")
    }

    /// Deletes; with `uid`/`resourceVersion` preconditions the delete fails with `.conflict`
    /// when the object was replaced or changed meanwhile.
    public func delete<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, name: String, uid: String? = nil, resourceVersion: String? = nil
    ) async throws(KubeError) {
        let path = T.resource.path(namespace: namespace, name: name)
        var preconditions: JSONObject = [:]
        if let uid { preconditions["uid"] = .string(uid) }
        if let resourceVersion { preconditions["resourceVersion"] = .string(resourceVersion) }
        let body: JSONValue = ["apiVersion": "v1", "kind": "DeleteOptions", "preconditions": .object(preconditions)]
        _ = try await send(.DELETE, path, body: preconditions.isEmpty ? nil : try Self.encode(body))
    }
}
