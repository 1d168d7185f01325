public struct Node: KubernetesObject {
    public static let resource = ResourceDescriptor(
        group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false)
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var spec: NodeSpec {
        get { self[object: "spec"] }
        set { self[object: "spec"] = newValue }
    }
    public var status: NodeStatus {
        get { self[object: "status"] }
        set { self[object: "status"] = newValue }
    }
}

public struct NodeSpec: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var providerID: String? {
        get { self[string: "providerID"] }
        set { self[string: "providerID"] = newValue }
    }
    public var unschedulable: Bool? {
        get { self[bool: "unschedulable"] }
        set { self[bool: "unschedulable"] = newValue }
    }
    public var taints: [Taint] {
        get { self[objects: "taints"] }
        set { self[objects: "taints"] = newValue }
    }
}

public struct Taint: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public init(key: String, value: String? = nil, effect: String) {
        json = [:]
        self.key = key
        self.value = value
        self.effect = effect
    }

    public var key: String? {
        get { self[string: "key"] }
        set { self[string: "key"] = newValue }
    }
    public var value: String? {
        get { self[string: "value"] }
        set { self[string: "value"] = newValue }
    }
    public var effect: String? {
        get { self[string: "effect"] }
        set { self[string: "effect"] = newValue }
    }
}

public struct NodeStatus: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var addresses: [NodeAddress] {
        get { self[objects: "addresses"] }
        set { self[objects: "addresses"] = newValue }
    }
}

public struct NodeAddress: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public init(type: NodeAddressType, address: String) {
        json = [:]
        self.type = type
        self.address = address
    }

    /// `InternalIP`, `ExternalIP`, `Hostname`, …
    public var type: NodeAddressType? {
        get { self[value: "type"] }
        set { self[value: "type"] = newValue }
    }
    public var address: String? {
        get { self[string: "address"] }
        set { self[string: "address"] = newValue }
    }
}
