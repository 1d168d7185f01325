public struct Lease: KubernetesObject {
    public static let resource = ResourceDescriptor(
        group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true)
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var spec: LeaseSpec {
        get { self[object: "spec"] }
        set { self[object: "spec"] = newValue }
    }
}

public struct LeaseSpec: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var holderIdentity: String? {
        get { self[string: "holderIdentity"] }
        set { self[string: "holderIdentity"] = newValue }
    }
    public var leaseDurationSeconds: Int? {
        get { self[int: "leaseDurationSeconds"] }
        set { self[int: "leaseDurationSeconds"] = newValue }
    }
    /// MicroTime, RFC 3339 with microseconds.
    public var acquireTime: String? {
        get { self[string: "acquireTime"] }
        set { self[string: "acquireTime"] = newValue }
    }
    public var renewTime: String? {
        get { self[string: "renewTime"] }
        set { self[string: "renewTime"] = newValue }
    }
    public var leaseTransitions: Int? {
        get { self[int: "leaseTransitions"] }
        set { self[int: "leaseTransitions"] = newValue }
    }
}
