/// Where a kind lives in the API and how its URLs are built.
public struct ResourceDescriptor: Hashable, Sendable {
    public let group: String
    public let version: String
    public let kind: String
    public let plural: String
    public let namespaced: Bool

    public init(group: String, version: String, kind: String, plural: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.namespaced = namespaced
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// `/api/v1/namespaces/ns/services/name/status` and friends.
    public func path(namespace: String?, name: String? = nil, subresource: String? = nil) -> String {
        var path = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace { path += "/namespaces/\(namespace.pathEscaped)" }
        path += "/\(plural)"
        if let name { path += "/\(name.pathEscaped)" }
        if let subresource { path += "/\(subresource)" }
        return path
    }
}

extension String {
    /// Escapes everything but unreserved characters; names are validated by the server, but a
    /// slash in user input must never change the path.
    var pathEscaped: String {
        var result = ""
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                result.append(Character(Unicode.Scalar(byte)))
            default:
                result +=
                    "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xf, radix: 16, uppercase: true)
            }
        }
        return result
    }
}

/// A top-level API object with metadata.
public protocol KubernetesObject: JSONBacked {
    static var resource: ResourceDescriptor { get }
}

extension KubernetesObject {
    public var metadata: ObjectMeta {
        get { self[object: "metadata"] }
        set { self[object: "metadata"] = newValue }
    }

    /// The cache key.
    public var key: ObjectKey {
        let meta = metadata
        return ObjectKey(namespace: meta.namespace, name: meta.name ?? "")
    }

    /// Sets apiVersion and kind, which the server requires on create and update.
    public mutating func stampTypeMeta() {
        json["apiVersion"] = .string(Self.resource.apiVersion)
        json["kind"] = .string(Self.resource.kind)
    }

    /// A reference for events and owner references.
    public var reference: ObjectReference {
        var ref = ObjectReference()
        ref.apiVersion = Self.resource.apiVersion
        ref.kind = Self.resource.kind
        ref.namespace = metadata.namespace
        ref.name = metadata.name
        ref.uid = metadata.uid
        ref.resourceVersion = metadata.resourceVersion
        return ref
    }
}

public struct ObjectMeta: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public init(name: String, namespace: String? = nil) {
        self.json = [:]
        self.name = name
        self.namespace = namespace
    }

    public var name: String? {
        get { self[string: "name"] }
        set { self[string: "name"] = newValue }
    }
    public var generateName: String? {
        get { self[string: "generateName"] }
        set { self[string: "generateName"] = newValue }
    }
    public var namespace: String? {
        get { self[string: "namespace"] }
        set { self[string: "namespace"] = newValue }
    }
    public var uid: String? {
        get { self[string: "uid"] }
        set { self[string: "uid"] = newValue }
    }
    public var resourceVersion: String? {
        get { self[string: "resourceVersion"] }
        set { self[string: "resourceVersion"] = newValue }
    }
    public var generation: Int? {
        get { self[int: "generation"] }
        set { self[int: "generation"] = newValue }
    }
    public var creationTimestamp: String? {
        get { self[string: "creationTimestamp"] }
        set { self[string: "creationTimestamp"] = newValue }
    }
    public var deletionTimestamp: String? {
        get { self[string: "deletionTimestamp"] }
        set { self[string: "deletionTimestamp"] = newValue }
    }
    public var labels: [String: String] {
        get { self[stringMap: "labels"] ?? [:] }
        set { self[stringMap: "labels"] = newValue.isEmpty ? nil : newValue }
    }
    public var annotations: [String: String] {
        get { self[stringMap: "annotations"] ?? [:] }
        set { self[stringMap: "annotations"] = newValue.isEmpty ? nil : newValue }
    }
    public var finalizers: [String] {
        get { self[strings: "finalizers"] ?? [] }
        set { self[strings: "finalizers"] = newValue.isEmpty ? nil : newValue }
    }
}

public struct ObjectReference: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var apiVersion: String? {
        get { self[string: "apiVersion"] }
        set { self[string: "apiVersion"] = newValue }
    }
    public var kind: String? {
        get { self[string: "kind"] }
        set { self[string: "kind"] = newValue }
    }
    public var namespace: String? {
        get { self[string: "namespace"] }
        set { self[string: "namespace"] = newValue }
    }
    public var name: String? {
        get { self[string: "name"] }
        set { self[string: "name"] = newValue }
    }
    public var uid: String? {
        get { self[string: "uid"] }
        set { self[string: "uid"] = newValue }
    }
    public var resourceVersion: String? {
        get { self[string: "resourceVersion"] }
        set { self[string: "resourceVersion"] = newValue }
    }
}

/// A condition as used in Service and other statuses (metav1.Condition).
public struct Condition: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public init(
        type: String, status: ConditionStatus, reason: String, message: String, lastTransitionTime: String,
        observedGeneration: Int? = nil
    ) {
        json = [:]
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.lastTransitionTime = lastTransitionTime
        self[int: "observedGeneration"] = observedGeneration
    }

    public var type: String? {
        get { self[string: "type"] }
        set { self[string: "type"] = newValue }
    }
    public var status: ConditionStatus? {
        get { self[value: "status"] }
        set { self[value: "status"] = newValue }
    }
    public var reason: String? {
        get { self[string: "reason"] }
        set { self[string: "reason"] = newValue }
    }
    public var message: String? {
        get { self[string: "message"] }
        set { self[string: "message"] = newValue }
    }
    public var lastTransitionTime: String? {
        get { self[string: "lastTransitionTime"] }
        set { self[string: "lastTransitionTime"] = newValue }
    }
}

extension KubernetesObject {
    /// The object without server bookkeeping no controller reads: managedFields and the
    /// last-applied-configuration annotation (often most of an object's size).
    public func withoutBookkeeping() -> Self {
        var copy = self
        guard case .object(var metadata)? = copy.json["metadata"] else { return copy }
        metadata["managedFields"] = nil
        if case .object(var annotations)? = metadata["annotations"] {
            annotations["kubectl.kubernetes.io/last-applied-configuration"] = nil
            metadata["annotations"] = .object(annotations)
        }
        copy.json["metadata"] = .object(metadata)
        return copy
    }

    /// Without `metadata.managedFields`: an update that leaves them out keeps the server's (the field manager
    /// falls back to the live object's), and they list every key of a large object once more.
    public func withoutManagedFields() -> Self {
        var copy = self
        guard case .object(var metadata)? = copy.json["metadata"] else { return copy }
        metadata["managedFields"] = nil
        copy.json["metadata"] = .object(metadata)
        return copy
    }

    /// What a controller of many objects caches: identity, lifecycle (finalizers, deletion), the
    /// named spec fields and annotations, and all of status (a merge patch of a status list must
    /// carry the entries other controllers wrote). Labels, owner references, apiVersion and kind
    /// (the type says them) and the rest go.
    public func keeping(specFields: Set<String>, annotations keptAnnotations: Set<String>) -> Self {
        var copy = Self()
        if case .object(let metadata)? = json["metadata"] {
            var kept = metadata.filter { Self.identityAndLifecycle.contains($0.key) }
            if case .object(let annotations)? = metadata["annotations"] {
                let filtered = annotations.filter { keptAnnotations.contains($0.key) }
                if !filtered.isEmpty { kept["annotations"] = .object(filtered) }
            }
            copy.json["metadata"] = .object(kept)
        }
        if case .object(let spec)? = json["spec"] {
            copy.json["spec"] = .object(spec.filter { specFields.contains($0.key) })
        }
        copy.json["status"] = json["status"]
        return copy
    }

    private static var identityAndLifecycle: Set<String> {
        [
            "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
            "finalizers",
        ]
    }

    /// Name, namespace and resourceVersion only: for watching an object whose content is not
    /// needed (only that it changed).
    public func keepingMetadataOnly() -> Self {
        var copy = Self()
        var metadata = ObjectMeta(name: self.metadata.name ?? "", namespace: self.metadata.namespace)
        metadata.resourceVersion = self.metadata.resourceVersion
        copy.metadata = metadata
        return copy
    }
}
