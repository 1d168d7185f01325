public import Foundation
public import KubeClient
import Synchronization

/// An API server in memory, for controller logic tests that run in milliseconds. It keeps what the product
/// relies on: one resourceVersion sequence, watches that replay from a version (with bookmarks, and 410 once
/// history is compacted), 404/409 (stale resourceVersion in an update, a merge patch or a delete
/// precondition), RFC 7386 merge patches, status subresources, finalizers with deletionTimestamp, and every
/// field as sent (`loadBalancerClass`, `ipMode`: nothing is dropped as a v1.20 server does).
/// Not modelled: admission, validation, strategic-merge list semantics (treated as a merge patch), JSON
/// patches, watch timeouts (`closeWatches()` ends them), consistent snapshots across list pages.
public final class InMemoryAPIServer: KubernetesAPI, Sendable {
    /// The verbs, for injected faults and the request log.
    public enum Verb: String, Sendable, CaseIterable {
        case get, list, watch, create, update, updateStatus, patch, patchStatus, delete
    }

    /// One request as the server saw it.
    public struct Request: Sendable, Hashable {
        public let verb: Verb
        public let resource: String
        public let namespace: String?
        public let name: String?
    }

    private struct Fault {
        let verb: Verb
        let resource: ResourceDescriptor
        let error: KubeError
        var remaining: Int
    }

    fileprivate enum Change: Sendable {
        case added, modified, deleted
    }

    private struct HistoryEntry {
        let revision: Int
        let resource: ResourceDescriptor
        let change: Change
        let object: JSONObject
    }

    /// A watch, its type erased: the closures know `T`.
    private struct Watcher: Sendable {
        let resource: ResourceDescriptor
        let namespace: String?
        let selector: Selector
        let bookmarks: Bool
        let send: @Sendable (Change, JSONObject) -> Void
        let bookmark: @Sendable (String) -> Void
        let finish: @Sendable ((any Error)?) -> Void

        func wants(_ object: JSONObject) -> Bool {
            (namespace == nil || namespaceOf(object) == namespace) && selector.matches(object)
        }
    }

    private struct State {
        var revision = 0
        var objects: [ResourceDescriptor: [String: JSONObject]] = [:]
        var history: [HistoryEntry] = []
        /// Watches may resume from any version after this one; older ones get 410.
        var compactedRevision = 0
        var watchers: [Int: Watcher] = [:]
        var nextWatcher = 0
        var faults: [Fault] = []
        var requests: [Request] = []
        var uidCounter = 0
        var hooks: [(verb: Verb, resource: ResourceDescriptor, body: @Sendable () async -> Void)] = []
    }

    private let state = Mutex(State())
    /// Resources whose status is written only through `/status` (and which drop status on create unless
    /// listed in `statusKeptOnCreate`).
    private let statusSubresources: Set<String>
    private let statusKeptOnCreate: Set<String>
    private let now: @Sendable () -> Date

    /// `statusSubresources`: plurals with a status subresource (Services, Nodes and VIPPools by default).
    public init(
        statusSubresources: Set<String> = ["services", "nodes", "vippools"],
        statusKeptOnCreate: Set<String> = ["nodes"],
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.statusSubresources = statusSubresources
        self.statusKeptOnCreate = statusKeptOnCreate
        self.now = now
    }

    // MARK: - Test controls

    /// The next `times` requests of `verb` on `resource` fail with `error`.
    public func failNext<T: KubernetesObject>(_ verb: Verb, _ type: T.Type, with error: KubeError, times: Int = 1) {
        state.withLock { $0.faults.append(Fault(verb: verb, resource: T.resource, error: error, remaining: times)) }
    }

    /// After the next successful `verb` on `type` is committed (watches told; for a list, its page taken) and
    /// before its response returns, `body` runs: what a client sees when someone else acts between its request
    /// and the answer.
    public func afterNext<T: KubernetesObject>(
        _ verb: Verb, _ type: T.Type, run body: @escaping @Sendable () async -> Void
    ) {
        state.withLock { $0.hooks.append((verb, T.resource, body)) }
    }

    private func runHook(_ verb: Verb, _ resource: ResourceDescriptor) async {
        let hook = state.withLock { state -> (@Sendable () async -> Void)? in
            guard let index = state.hooks.firstIndex(where: { $0.verb == verb && $0.resource == resource }) else {
                return nil
            }
            return state.hooks.remove(at: index).body
        }
        await hook?()
    }

    /// Every request so far, in order.
    public var requests: [Request] { state.withLock { $0.requests } }

    /// How many requests of `verb` on `type` the server has seen.
    public func count<T: KubernetesObject>(_ verb: Verb, _ type: T.Type) -> Int {
        state.withLock { $0.requests.filter { $0.verb == verb && $0.resource == T.resource.plural }.count }
    }

    /// The current resourceVersion.
    public var resourceVersion: String { state.withLock { String($0.revision) } }

    /// Every open watch that asked for bookmarks receives one at the current version.
    public func sendBookmarks() {
        let (watchers, version) = state.withLock { ($0.watchers.values.filter(\.bookmarks), String($0.revision)) }
        for watcher in watchers { watcher.bookmark(version) }
    }

    /// Forgets history as etcd compaction does: a watch from an older version gets 410 Gone.
    public func compact() {
        state.withLock {
            $0.compactedRevision = $0.revision
            $0.history.removeAll()
        }
    }

    /// Compacts and ends every open watch with 410 Gone (an API server restarted after compaction).
    public func expireWatches() {
        compact()
        let watchers = state.withLock { state in
            defer { state.watchers.removeAll() }
            return Array(state.watchers.values)
        }
        for watcher in watchers {
            watcher.finish(KubeError(.gone, "WATCH: too old resource version", httpStatus: 410))
        }
    }

    /// Ends every open watch cleanly, as the server does when a watch's timeout passes.
    public func closeWatches() {
        let watchers = state.withLock { state in
            defer { state.watchers.removeAll() }
            return Array(state.watchers.values)
        }
        for watcher in watchers { watcher.finish(nil) }
    }

    /// Open watches (tests check that consumers close theirs).
    public var openWatches: Int { state.withLock { $0.watchers.count } }

    // MARK: - KubernetesAPI

    public func get<T: KubernetesObject>(_ type: T.Type, namespace: String?, name: String) async throws(KubeError)
        -> T
    {
        try state.withLock { state throws(KubeError) in
            try admit(&state, .get, T.resource, namespace: namespace, name: name)
            guard let object = state.objects[T.resource]?[key(T.resource, namespace, name)] else {
                throw notFound(T.resource, namespace, name)
            }
            return T(json: object)
        }
    }

    public func list<T: KubernetesObject>(_ type: T.Type, namespace: String?, options: ListOptions)
        async throws(KubeError) -> ObjectList<T>
    {
        let page = try listPage(type, namespace: namespace, options: options)
        await runHook(.list, T.resource)
        return page
    }

    private func listPage<T: KubernetesObject>(_ type: T.Type, namespace: String?, options: ListOptions)
        throws(KubeError) -> ObjectList<T>
    {
        try state.withLock { state throws(KubeError) in
            try admit(&state, .list, T.resource, namespace: namespace, name: nil)
            let selector = try Selector(labelSelector: options.labelSelector, fieldSelector: options.fieldSelector)
            let all = (state.objects[T.resource] ?? [:]).filter { entry in
                (namespace == nil || !T.resource.namespaced || namespaceOf(entry.value) == namespace)
                    && selector.matches(entry.value)
            }.sorted { $0.key < $1.key }
            let offset = options.continueToken.flatMap { Int($0) } ?? 0
            let limit = options.limit.map { max($0, 1) } ?? all.count
            let page = all.dropFirst(offset).prefix(limit)
            let next = offset + page.count
            return ObjectList(
                items: page.map { T(json: $0.value) }, resourceVersion: String(state.revision),
                continueToken: next < all.count ? String(next) : nil)
        }
    }

    public func watch<T: KubernetesObject>(_ type: T.Type, namespace: String?, options: WatchOptions)
        -> WatchStream<T>
    {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: WatchEvent<T>.self)
        let watcherID: Int
        do {
            watcherID = try state.withLock { state throws(KubeError) in
                try admit(&state, .watch, T.resource, namespace: namespace, name: nil)
                let selector = try Selector(labelSelector: options.labelSelector, fieldSelector: options.fieldSelector)
                let watcher = Watcher(
                    resource: T.resource, namespace: T.resource.namespaced ? namespace : nil, selector: selector,
                    bookmarks: options.allowBookmarks,
                    send: { change, json in
                        switch change {
                        case .added: continuation.yield(.added(T(json: json)))
                        case .modified: continuation.yield(.modified(T(json: json)))
                        case .deleted: continuation.yield(.deleted(T(json: json)))
                        }
                    },
                    bookmark: { continuation.yield(.bookmark(resourceVersion: $0)) },
                    finish: { continuation.finish(throwing: $0) })
                // Start: the version asked for (replayed from history), or the current state as ADDED events.
                if let text = options.resourceVersion, !text.isEmpty, text != "0" {
                    guard let version = Int(text) else {
                        throw KubeError(.badRequest, "WATCH: resourceVersion \(text) is not a number", httpStatus: 400)
                    }
                    guard version >= state.compactedRevision else {
                        throw KubeError(
                            .gone, "WATCH: too old resource version: \(version) (\(state.compactedRevision))",
                            httpStatus: 410)
                    }
                    for entry in state.history where entry.revision > version && entry.resource == T.resource {
                        if watcher.wants(entry.object) { watcher.send(entry.change, entry.object) }
                    }
                } else {
                    for (_, object) in (state.objects[T.resource] ?? [:]).sorted(by: { $0.key < $1.key })
                    where watcher.wants(object) {
                        watcher.send(.added, object)
                    }
                }
                let id = state.nextWatcher
                state.nextWatcher += 1
                state.watchers[id] = watcher
                return id
            }
        } catch {
            continuation.finish(throwing: error)
            return WatchStream(stream)
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: watcherID) }
        }
        return WatchStream(stream)
    }

    public func create<T: KubernetesObject>(_ object: T, namespace: String?) async throws(KubeError) -> T {
        var object = object
        object.stampTypeMeta()
        let resource = T.resource
        let namespace = resource.namespaced ? (namespace ?? object.metadata.namespace) : nil
        let result = T(
            json: try state.withLock { state throws(KubeError) in
                var metadata = object.metadata
                if metadata.name?.isEmpty ?? true, let prefix = metadata.generateName {
                    state.uidCounter += 1
                    metadata.name = prefix + String(state.uidCounter, radix: 36)
                }
                let name = metadata.name ?? ""
                try admit(&state, .create, resource, namespace: namespace, name: name)
                guard !name.isEmpty else {
                    throw KubeError(.invalid, "POST \(resource.plural): metadata.name: Required value", httpStatus: 422)
                }
                if resource.namespaced && (namespace ?? "").isEmpty {
                    throw KubeError(.badRequest, "POST \(resource.plural): a namespace is required", httpStatus: 400)
                }
                let key = key(resource, namespace, name)
                if state.objects[resource]?[key] != nil {
                    throw KubeError(
                        .alreadyExists, "POST \(resource.plural): \(resource.plural) \"\(name)\" already exists",
                        httpStatus: 409)
                }
                state.uidCounter += 1
                metadata.namespace = namespace
                metadata.uid = "00000000-0000-4000-8000-" + String(state.uidCounter, radix: 16).leftPadded(to: 12)
                metadata.creationTimestamp = KubeTime.format(now())
                metadata.generation = 1
                metadata.deletionTimestamp = nil
                object.metadata = metadata
                if statusSubresources.contains(resource.plural) && !statusKeptOnCreate.contains(resource.plural) {
                    object.json["status"] = nil
                }
                Self.applyDefaults(resource, &object.json, serial: state.uidCounter)
                return commit(&state, resource, (key, .added, object.json))
            })
        await runHook(.create, resource)
        return result
    }

    public func update<T: KubernetesObject>(_ object: T) async throws(KubeError) -> T {
        let result = try replace(object, verb: .update)
        await runHook(.update, T.resource)
        return result
    }

    public func updateStatus<T: KubernetesObject>(_ object: T) async throws(KubeError) -> T {
        let result = try replace(object, verb: .updateStatus)
        await runHook(.updateStatus, T.resource)
        return result
    }

    public func patch<T: KubernetesObject>(
        _ type: T.Type, namespace: String?, name: String, _ patch: Patch, subresource: String?
    ) async throws(KubeError) -> T {
        let resource = T.resource
        let namespace = resource.namespaced ? namespace : nil
        let verb: Verb = subresource == "status" ? .patchStatus : .patch
        let result = T(
            json: try state.withLock { state throws(KubeError) in
                try admit(&state, verb, resource, namespace: namespace, name: name)
                let key = key(resource, namespace, name)
                guard let current = state.objects[resource]?[key] else { throw notFound(resource, namespace, name) }
                let body: JSONValue
                switch patch {
                case .merge(let value), .strategicMerge(let value): body = value
                case .json:
                    throw KubeError(.badRequest, "the in-memory API server does not take JSON patches", httpStatus: 415)
                }
                // A resourceVersion in the patch is a precondition, as on the real server.
                if let expected = body.objectValue?["metadata"]?.objectValue?["resourceVersion"]?.stringValue,
                    !expected.isEmpty,
                    expected != ObjectMeta(json: current["metadata"]?.objectValue ?? [:]).resourceVersion
                {
                    throw conflict(resource, name)
                }
                let patched = MergePatch.apply(body, to: .object(current)).objectValue ?? current
                return commit(
                    &state, resource,
                    try self.merge(
                        resource, key: key, current: current, proposed: patched, status: subresource == "status"))
            })
        await runHook(verb, resource)
        return result
    }

    public func delete<T: KubernetesObject>(
        _ type: T.Type, namespace: String?, name: String, uid: String?, resourceVersion: String?
    ) async throws(KubeError) {
        let resource = T.resource
        let namespace = resource.namespaced ? namespace : nil
        try state.withLock { state throws(KubeError) in
            try admit(&state, .delete, resource, namespace: namespace, name: name)
            let key = key(resource, namespace, name)
            guard let current = state.objects[resource]?[key] else { throw notFound(resource, namespace, name) }
            var metadata = ObjectMeta(json: current["metadata"]?.objectValue ?? [:])
            if let uid, uid != metadata.uid { throw conflict(resource, name) }
            if let resourceVersion, resourceVersion != metadata.resourceVersion { throw conflict(resource, name) }
            guard metadata.finalizers.isEmpty else {
                // Finalizers hold the object: it is marked, and goes when the last one is removed.
                if metadata.deletionTimestamp == nil { metadata.deletionTimestamp = KubeTime.format(now()) }
                var marked = current
                marked["metadata"] = .object(metadata.json)
                _ = commit(&state, resource, (key, .modified, marked))
                return
            }
            _ = commit(&state, resource, (key, .deleted, current))
        }
        await runHook(.delete, resource)
    }

    // MARK: - Internals

    private func replace<T: KubernetesObject>(_ object: T, verb: Verb) throws(KubeError) -> T {
        var object = object
        object.stampTypeMeta()
        let resource = T.resource
        let namespace = resource.namespaced ? object.metadata.namespace : nil
        let name = object.metadata.name ?? ""
        return T(
            json: try state.withLock { state throws(KubeError) in
                try admit(&state, verb, resource, namespace: namespace, name: name)
                let key = key(resource, namespace, name)
                guard let current = state.objects[resource]?[key] else { throw notFound(resource, namespace, name) }
                let expected = object.metadata.resourceVersion ?? ""
                if !expected.isEmpty,
                    expected != ObjectMeta(json: current["metadata"]?.objectValue ?? [:]).resourceVersion
                {
                    throw conflict(resource, name)
                }
                return commit(
                    &state, resource,
                    try self.merge(
                        resource, key: key, current: current, proposed: object.json, status: verb == .updateStatus))
            })
    }

    /// The object a write leaves: through `/status` only the status changes; otherwise everything but the
    /// status (where there is a status subresource) and the server's own metadata.
    private func merge(
        _ resource: ResourceDescriptor, key: String, current: JSONObject, proposed: JSONObject, status: Bool
    ) throws(KubeError) -> (String, Change, JSONObject) {
        var result: JSONObject
        if status {
            result = current
            result["status"] = proposed["status"]
        } else {
            result = proposed
            if statusSubresources.contains(resource.plural) { result["status"] = current["status"] }
            let old = ObjectMeta(json: current["metadata"]?.objectValue ?? [:])
            var metadata = ObjectMeta(json: result["metadata"]?.objectValue ?? [:])
            metadata.uid = old.uid
            metadata.namespace = old.namespace
            metadata.name = old.name
            metadata.creationTimestamp = old.creationTimestamp
            metadata.resourceVersion = old.resourceVersion
            metadata.deletionTimestamp = old.deletionTimestamp
            metadata.generation = (old.generation ?? 1) + (result["spec"] != current["spec"] ? 1 : 0)
            if old.deletionTimestamp != nil, !Set(metadata.finalizers).isSubset(of: Set(old.finalizers)) {
                throw KubeError(
                    .invalid,
                    "\(resource.plural) \"\(old.name ?? "")\": no new finalizers can be added while the "
                        + "object is being deleted", httpStatus: 422)
            }
            result["metadata"] = .object(metadata.json)
            if resource == Service.resource, var spec = result["spec"]?.objectValue,
                let old = current["spec"]?.objectValue
            {
                // The ClusterIP is immutable: an update that leaves it out keeps it.
                spec["clusterIP"] = spec["clusterIP"] ?? old["clusterIP"]
                spec["clusterIPs"] = spec["clusterIPs"] ?? old["clusterIPs"]
                result["spec"] = .object(spec)
            }
        }
        let metadata = ObjectMeta(json: result["metadata"]?.objectValue ?? [:])
        if metadata.deletionTimestamp != nil && metadata.finalizers.isEmpty { return (key, .deleted, result) }
        return (key, .modified, result)
    }

    /// Stores the result of a write: stamps the next resourceVersion (a write that changes nothing keeps the
    /// old one and tells no watch), records history and tells every watch that wants it.
    private func commit(
        _ state: inout State, _ resource: ResourceDescriptor,
        _ result: (key: String, change: Change, object: JSONObject)
    ) -> JSONObject {
        let previous = state.objects[resource]?[result.key]
        if result.change == .modified, let previous, previous == result.object { return previous }
        state.revision += 1
        var object = result.object
        var metadata = ObjectMeta(json: object["metadata"]?.objectValue ?? [:])
        metadata.resourceVersion = String(state.revision)
        object["metadata"] = .object(metadata.json)
        if result.change == .deleted {
            state.objects[resource]?[result.key] = nil
        } else {
            state.objects[resource, default: [:]][result.key] = object
        }
        state.history.append(
            HistoryEntry(revision: state.revision, resource: resource, change: result.change, object: object))
        for watcher in state.watchers.values where watcher.resource == resource && watcher.wants(object) {
            watcher.send(result.change, object)
        }
        return object
    }

    /// Every request passes here: it is logged, and an injected fault for it is thrown.
    private func admit(
        _ state: inout State, _ verb: Verb, _ resource: ResourceDescriptor, namespace: String?, name: String?
    ) throws(KubeError) {
        state.requests.append(Request(verb: verb, resource: resource.plural, namespace: namespace, name: name))
        guard let index = state.faults.firstIndex(where: { $0.verb == verb && $0.resource == resource }) else {
            return
        }
        let fault = state.faults[index]
        state.faults[index].remaining -= 1
        if state.faults[index].remaining <= 0 { state.faults.remove(at: index) }
        throw fault.error
    }

    /// What the API server fills in that the product reads, as a single-stack IPv4 cluster does for a
    /// Service: its families and a ClusterIP (from kubeadm's default range; data only, never on an interface).
    private static func applyDefaults(_ resource: ResourceDescriptor, _ object: inout JSONObject, serial: Int) {
        guard resource == Service.resource, var spec = object["spec"]?.objectValue else { return }
        if spec["ipFamilies"] == nil { spec["ipFamilies"] = ["IPv4"] }
        if spec["ipFamilyPolicy"] == nil { spec["ipFamilyPolicy"] = "SingleStack" }
        if spec["clusterIP"] == nil, spec["type"]?.stringValue != "ExternalName" {
            let address = "10.96.\((serial >> 8) & 0xff).\(serial & 0xff)"
            spec["clusterIP"] = .string(address)
            spec["clusterIPs"] = [.string(address)]
        }
        object["spec"] = .object(spec)
    }
}

private func namespaceOf(_ object: JSONObject) -> String? {
    object["metadata"]?.objectValue?["namespace"]?.stringValue
}

private func key(_ resource: ResourceDescriptor, _ namespace: String?, _ name: String) -> String {
    resource.namespaced ? "\(namespace ?? "")/\(name)" : name
}

private func notFound(_ resource: ResourceDescriptor, _ namespace: String?, _ name: String) -> KubeError {
    KubeError(
        .notFound, "GET \(resource.path(namespace: namespace, name: name)): \(resource.plural) \"\(name)\" not found",
        httpStatus: 404)
}

private func conflict(_ resource: ResourceDescriptor, _ name: String) -> KubeError {
    KubeError(
        .conflict,
        "Operation cannot be fulfilled on \(resource.plural) \"\(name)\": the object has been modified; please apply "
            + "your changes to the latest version and try again", httpStatus: 409)
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
