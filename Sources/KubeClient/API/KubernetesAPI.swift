/// The verbs the controller, the agent, informers, leader election and events use. `KubernetesClient` speaks
/// them over HTTP; the test kit's in-memory server speaks them in memory, so controller logic is testable in
/// milliseconds and with fields a v1.20 server drops.
public protocol KubernetesAPI: Sendable {
    func get<T: KubernetesObject>(_ type: T.Type, namespace: String?, name: String) async throws(KubeError) -> T

    /// One page of a list. `namespace` nil lists across all namespaces.
    func list<T: KubernetesObject>(_ type: T.Type, namespace: String?, options: ListOptions)
        async throws(KubeError) -> ObjectList<T>

    /// A watch; iterate it and resume from the last event's resourceVersion when it ends.
    func watch<T: KubernetesObject>(_ type: T.Type, namespace: String?, options: WatchOptions) -> WatchStream<T>

    func create<T: KubernetesObject>(_ object: T, namespace: String?) async throws(KubeError) -> T

    /// PUT with the object's resourceVersion: a stale one fails with `.conflict`.
    func update<T: KubernetesObject>(_ object: T) async throws(KubeError) -> T

    /// PUT to the status subresource.
    func updateStatus<T: KubernetesObject>(_ object: T) async throws(KubeError) -> T

    func patch<T: KubernetesObject>(
        _ type: T.Type, namespace: String?, name: String, _ patch: Patch, subresource: String?
    ) async throws(KubeError) -> T

    /// With `uid`/`resourceVersion` preconditions the delete fails with `.conflict` when the object was
    /// replaced or changed meanwhile.
    func delete<T: KubernetesObject>(
        _ type: T.Type, namespace: String?, name: String, uid: String?, resourceVersion: String?
    ) async throws(KubeError)
}

extension KubernetesAPI {
    public func get<T: KubernetesObject>(_ type: T.Type, name: String) async throws(KubeError) -> T {
        try await get(type, namespace: nil, name: name)
    }

    public func list<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, options: ListOptions = ListOptions()
    ) async throws(KubeError) -> ObjectList<T> {
        try await list(type, namespace: namespace, options: options)
    }

    public func watch<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, options: WatchOptions = WatchOptions()
    ) -> WatchStream<T> {
        watch(type, namespace: namespace, options: options)
    }

    public func create<T: KubernetesObject>(_ object: T) async throws(KubeError) -> T {
        try await create(object, namespace: nil)
    }

    public func patch<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, name: String, _ patch: Patch
    ) async throws(KubeError) -> T {
        try await self.patch(type, namespace: namespace, name: name, patch, subresource: nil)
    }

    /// A merge patch of `status` through the status subresource (what a controller writes of an object it
    /// does not own).
    public func patchStatus<T: KubernetesObject>(
        _ type: T.Type, namespace: String?, name: String, _ status: JSONValue
    ) async throws(KubeError) -> T {
        try await patch(type, namespace: namespace, name: name, .merge(["status": status]), subresource: "status")
    }

    public func delete<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, name: String
    ) async throws(KubeError) {
        try await delete(type, namespace: namespace, name: name, uid: nil, resourceVersion: nil)
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
}
