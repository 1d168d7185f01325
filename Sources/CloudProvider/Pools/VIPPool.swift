public import KubeClient

/// `vippools.keepalived-lb.io/v1alpha1`: a named, cluster-scoped address pool (deploy/base/vippools.yaml).
public struct VIPPool: KubernetesObject {
    public static let resource = ResourceDescriptor(
        group: "keepalived-lb.io", version: "v1alpha1", kind: "VIPPool", plural: "vippools", namespaced: false)
    /// The Service annotation that names the pool to take an address from.
    public static let serviceAnnotation = "keepalived-lb.io/pool"

    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var spec: VIPPoolSpec {
        get { self[object: "spec"] }
        set { self[object: "spec"] = newValue }
    }
    public var status: VIPPoolStatus {
        get { self[object: "status"] }
        set { self[object: "status"] = newValue }
    }
}

public struct VIPPoolSpec: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var addresses: [String] {
        get { self[strings: "addresses"] ?? [] }
        set { self[strings: "addresses"] = newValue }
    }
    public var avoidBuggyIPs: Bool {
        get { self[bool: "avoidBuggyIPs"] ?? false }
        set { self[bool: "avoidBuggyIPs"] = newValue }
    }
    /// Default true (the CRD's default; a server that did not apply it still means true).
    public var autoAssign: Bool {
        get { self[bool: "autoAssign"] ?? true }
        set { self[bool: "autoAssign"] = newValue }
    }
    public var namespaces: [String] {
        get { self[strings: "namespaces"] ?? [] }
        set { self[strings: "namespaces"] = newValue }
    }
    /// Namespaces whose labels match may use the pool too (beside `namespaces`).
    public var namespaceSelector: LabelSelector? {
        get { json["namespaceSelector"]?.objectValue.map(LabelSelector.init(json:)) }
        set { json["namespaceSelector"] = newValue.map { .object($0.json) } }
    }
    /// Services of different namespaces with one sharing key may share its addresses.
    public var allowSharingAcrossNamespaces: Bool {
        get { self[bool: "allowSharingAcrossNamespaces"] ?? false }
        set { self[bool: "allowSharingAcrossNamespaces"] = newValue }
    }
    /// Only nodes whose labels match may hold its addresses (among the controller's eligible nodes).
    public var nodeSelector: LabelSelector? {
        get { json["nodeSelector"]?.objectValue.map(LabelSelector.init(json:)) }
        set { json["nodeSelector"] = newValue.map { .object($0.json) } }
    }
    /// The interface its addresses go on (else the agent's `--interface`); a node without it holds none of them.
    public var interface: String? {
        get { self[string: "interface"] }
        set { self[string: "interface"] = newValue }
    }
    public var priority: Int {
        get { self[int: "priority"] ?? 0 }
        set { self[int: "priority"] = newValue }
    }
    /// How its addresses reach the network: VRRP (absent: today's behaviour) or BGP.
    public var announcement: VIPPoolAnnouncement? {
        get { json["announcement"]?.objectValue.map(VIPPoolAnnouncement.init(json:)) }
        set { json["announcement"] = newValue.map { .object($0.json) } }
    }
}

/// `spec.announcement`: `mode` VRRP or BGP, and for BGP the attributes every route of the pool carries.
public struct VIPPoolAnnouncement: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }
    public init() { json = [:] }

    /// "VRRP" (the default) or "BGP".
    public var mode: String? {
        get { self[string: "mode"] }
        set { self[string: "mode"] = newValue }
    }
    /// Standard communities, "ASN:VALUE".
    public var communities: [String] {
        get { self[strings: "communities"] ?? [] }
        set { self[strings: "communities"] = newValue }
    }
    /// Sent to iBGP peers.
    public var localPreference: Int? {
        get { self[int: "localPreference"] }
        set { self[int: "localPreference"] = newValue }
    }
}

public struct VIPPoolStatus: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var used: Int? { self[int: "used"] }
    public var free: String? { self[string: "free"] }
    public var size: String? { self[string: "size"] }
    public var services: [String] { self[strings: "services"] ?? [] }
    public var conditions: [Condition] { self[objects: "conditions"] }
}
