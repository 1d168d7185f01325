public import Logging

public enum InformerEvent<T: KubernetesObject>: Sendable {
    case added(T)
    case updated(old: T, new: T)
    case deleted(T)
    /// The first full list has been delivered: the cache now reflects the cluster.
    case synced
}

/// How an informer keeps its objects.
public enum InformerStorage: Sendable {
    /// Decoded trees: the cheapest reads, for small caches (nodes, one ConfigMap).
    case objects
    /// Packed bytes (`PackedJSON`: keys and repeated short strings interned, no punctuation), unpacked on read:
    /// one allocation per object instead of a tree of dictionaries, for caches of thousands of objects.
    case packed
    /// Only each object's name and resourceVersion, for a consumer that keeps what it needs from the events:
    /// `get`, `list` and an update's old side give those skeletons; added, updated and deleted objects are whole.
    case versions
}

/// List + watch + a local cache keyed by `ObjectKey`. Objects pass `transform` before they
/// are cached (by default managedFields and kubectl's last-applied copy are dropped, as client-go's
/// TransformStripManagedFields does): a cache of thousands of objects is most of a controller's memory.
/// Resumes from the last resourceVersion after disconnects (with backoff) and relists on 410 Gone,
/// synthesising the events it missed from the difference, so a consumer never loses a deletion.
public actor Informer<T: KubernetesObject> {
    private let client: any KubernetesAPI
    private let namespace: String?
    private let labelSelector: String?
    private let fieldSelector: String?
    private let logger: Logger
    private let initialBackoff: Duration
    private let maximumBackoff: Duration
    /// Each watch is ended by the server after this long and resumed from the last version: under
    /// heavy load a v1.20 server was seen to stop feeding a watch without closing it, so this
    /// bounds how long an informer can go blind.
    private let watchTimeoutSeconds: Int
    private var cache: [ObjectKey: Stored] = [:]
    /// The strings `.packed` objects refer to.
    private var packingTable = PackedJSON.Table()
    private let storage: InformerStorage
    private let transform: @Sendable (T) -> T
    /// What the retry backoff sleeps on (injected; tests may move a manual clock).
    private let sleep: @Sendable (Duration) async throws -> Void
    private var resourceVersion: String?
    public private(set) var hasSynced = false
    /// How many times the informer had to list from scratch (for metrics and tests).
    public private(set) var relists = 0

    public init(
        client: any KubernetesAPI, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
        logger: Logger = Logger(label: "informer"), initialBackoff: Duration = .milliseconds(200),
        maximumBackoff: Duration = .seconds(10), watchTimeoutSeconds: Int = 60, storage: InformerStorage = .objects,
        transform: @escaping @Sendable (T) -> T = { $0.withoutBookkeeping() },
        clock: any Clock<Duration>
    ) {
        sleep = { try await clock.sleep(for: $0) }
        self.transform = transform
        self.storage = storage
        self.client = client
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.logger = logger
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
        self.watchTimeoutSeconds = watchTimeoutSeconds
    }

    public func get(_ key: ObjectKey) -> T? { cache[key].map { load($0, key) } }
    public func list() -> [T] { cache.map { load($1, $0) } }
    public var count: Int { cache.count }

    /// One word for an object or its packed bytes (a cache of 10,000 reserves 16,384 of these).
    private enum Stored: Sendable {
        case object(T)
        case packed([UInt8])
        case version(String?)
    }

    private func store(_ object: T, as storage: InformerStorage) -> Stored {
        switch storage {
        case .objects: .object(object)
        case .packed: .packed(PackedJSON.pack(.object(object.json), into: &packingTable))
        case .versions: .version(object.metadata.resourceVersion)
        }
    }

    private func load(_ stored: Stored, _ key: ObjectKey) -> T {
        switch stored {
        case .object(let object): return object
        case .packed(let bytes):
            // Bytes our own packer produced with this table; the round trip is tested, so a failure is a bug.
            guard let json = PackedJSON.unpack(bytes, table: packingTable)?.objectValue else {
                preconditionFailure("informer cache of \(T.resource.plural): packed object does not unpack")
            }
            return T(json: json)
        case .version(let version):
            var skeleton = T()
            skeleton.metadata = ObjectMeta(name: key.name, namespace: key.namespace)
            skeleton.metadata.resourceVersion = version
            return skeleton
        }
    }

    private func resourceVersion(of stored: Stored, _ key: ObjectKey) -> String? {
        if case .version(let version) = stored { return version }
        return load(stored, key).metadata.resourceVersion
    }

    /// Runs until the task is cancelled, calling `handler` for every change in order.
    public func run(_ handler: @Sendable (InformerEvent<T>) async -> Void) async {
        var needsList = true
        var backoff = initialBackoff
        while !Task.isCancelled {
            do {
                if needsList {
                    try await relist(handler)
                    needsList = false
                }
                let options = WatchOptions(
                    resourceVersion: resourceVersion, labelSelector: labelSelector, fieldSelector: fieldSelector,
                    allowBookmarks: true, timeoutSeconds: watchTimeoutSeconds)
                var received = 0
                logger.debug(
                    "watch starts",
                    metadata: ["resource": "\(T.resource.plural)", "resourceVersion": "\(resourceVersion ?? "")"])
                for try await event in client.watch(T.self, namespace: namespace, options: options) {
                    await apply(event, handler)
                    received += 1
                    backoff = initialBackoff
                }
                logger.debug(
                    "watch ended by the server; resuming",
                    metadata: ["resource": "\(T.resource.plural)", "events": "\(received)"])
            } catch let error as KubeError where error.code == .gone {
                logger.info(
                    "watch resourceVersion expired; relisting",
                    metadata: ["resource": "\(T.resource.plural)", "error": "\(error.message)"])
                needsList = true
            } catch {
                if Task.isCancelled { return }
                logger.warning(
                    "watch failed; retrying",
                    metadata: ["resource": "\(T.resource.plural)", "error": "\(error)", "backoff": "\(backoff)"])
                let jitter = Double.random(in: 0.8...1.2)
                try? await sleep(backoff * jitter)
                backoff = min(backoff * 2, maximumBackoff)
            }
        }
    }

    private func relist(_ handler: @Sendable (InformerEvent<T>) async -> Void) async throws(KubeError) {
        // Page by page: only one page of whole objects is alive at a time, the rest is already
        // reduced by `transform` (a list of 10,000 Services held whole was 50 MB at its peak).
        var fresh: [ObjectKey: Stored] = [:]
        let transform = self.transform
        let version = try await client.listPages(
            T.self, namespace: namespace,
            options: ListOptions(labelSelector: labelSelector, fieldSelector: fieldSelector)
        ) { page in
            // Packed until the events are out: they carry whole objects even when only versions are kept.
            for item in page { fresh[item.key] = store(transform(item), as: storage == .versions ? .packed : storage) }
        }
        relists += 1
        let previous = cache
        cache = fresh
        resourceVersion = version
        for (key, item) in fresh.sorted(by: { $0.key < $1.key }) {
            if let old = previous[key] {
                if resourceVersion(of: old, key) != resourceVersion(of: item, key) {
                    await handler(.updated(old: load(old, key), new: load(item, key)))
                }
            } else {
                await handler(.added(load(item, key)))
            }
        }
        for (key, old) in previous.sorted(by: { $0.key < $1.key }) where fresh[key] == nil {
            await handler(.deleted(load(old, key)))
        }
        if storage == .versions {
            var versions = [ObjectKey: Stored](minimumCapacity: fresh.count)
            for (key, item) in fresh { versions[key] = .version(resourceVersion(of: item, key)) }
            cache = versions
        }
        if !hasSynced {
            hasSynced = true
            await handler(.synced)
        }
    }

    private func apply(_ event: WatchEvent<T>, _ handler: @Sendable (InformerEvent<T>) async -> Void) async {
        if let rv = event.resourceVersion, !rv.isEmpty { resourceVersion = rv }
        switch event {
        case .added(let received), .modified(let received):
            let object = transform(received)
            if let old = cache.updateValue(store(object, as: storage), forKey: object.key) {
                await handler(.updated(old: load(old, object.key), new: object))
            } else {
                await handler(.added(object))
            }
        case .deleted(let object):
            let old = cache.removeValue(forKey: object.key)
            // A skeleton says less than the deleted object the server sent.
            if let old, storage != .versions {
                await handler(.deleted(load(old, object.key)))
            } else {
                await handler(.deleted(transform(object)))
            }
        case .bookmark:
            break
        }
    }
}
