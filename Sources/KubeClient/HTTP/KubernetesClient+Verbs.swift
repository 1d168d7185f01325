import Foundation
import NIOCore
import NIOHTTP1

/// The API verbs over HTTP.
extension KubernetesClient: KubernetesAPI {
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
