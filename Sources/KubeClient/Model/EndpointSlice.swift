/// `discovery.k8s.io/v1` EndpointSlice (Kubernetes 1.21+): which endpoints back a Service, and on which node.
public struct EndpointSlice: EndpointSliceObject {
    public static let resource = ResourceDescriptor(
        group: "discovery.k8s.io", version: "v1", kind: "EndpointSlice", plural: "endpointslices", namespaced: true)
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }
}

/// `discovery.k8s.io/v1beta1` EndpointSlice, the version Kubernetes 1.20 serves (gone from 1.25).
public struct EndpointSliceV1Beta1: EndpointSliceObject {
    public static let resource = ResourceDescriptor(
        group: "discovery.k8s.io", version: "v1beta1", kind: "EndpointSlice", plural: "endpointslices",
        namespaced: true)
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }
}

/// What both versions share for placement: the Service a slice belongs to and each endpoint's node and state.
public protocol EndpointSliceObject: KubernetesObject {}

extension EndpointSliceObject {
    /// The label that ties a slice to its Service.
    public static var serviceNameLabel: String { "kubernetes.io/service-name" }

    public var serviceName: String? { metadata.labels[Self.serviceNameLabel] }

    public var endpoints: [SliceEndpoint] {
        get { self[objects: "endpoints"] }
        set { self[objects: "endpoints"] = newValue }
    }
}

public struct SliceEndpoint: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public init(addresses: [String], nodeName: String?, ready: Bool?, serving: Bool? = nil, terminating: Bool? = nil) {
        json = [:]
        self[strings: "addresses"] = addresses
        self.nodeName = nodeName
        var conditions = SliceEndpointConditions(json: [:])
        conditions.ready = ready
        conditions.serving = serving
        conditions.terminating = terminating
        self.conditions = conditions
    }

    /// `nodeName` (v1, and v1beta1 from 1.20), else v1beta1's `topology["kubernetes.io/hostname"]`.
    public var nodeName: String? {
        get { self[string: "nodeName"] ?? self[stringMap: "topology"]?["kubernetes.io/hostname"] }
        set { self[string: "nodeName"] = newValue }
    }
    public var conditions: SliceEndpointConditions {
        get { self[object: "conditions"] }
        set { self[object: "conditions"] = newValue }
    }
}

public struct SliceEndpointConditions: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    /// nil means unknown, which consumers read as ready (the API's documented reading).
    public var ready: Bool? {
        get { self[bool: "ready"] }
        set { self[bool: "ready"] = newValue }
    }
    public var serving: Bool? {
        get { self[bool: "serving"] }
        set { self[bool: "serving"] = newValue }
    }
    public var terminating: Bool? {
        get { self[bool: "terminating"] }
        set { self[bool: "terminating"] = newValue }
    }
}
