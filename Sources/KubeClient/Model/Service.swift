public struct Service: KubernetesObject {
    public static let resource = ResourceDescriptor(
        group: "", version: "v1", kind: "Service", plural: "services", namespaced: true)
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var spec: ServiceSpec {
        get { self[object: "spec"] }
        set { self[object: "spec"] = newValue }
    }
    public var status: ServiceStatus {
        get { self[object: "status"] }
        set { self[object: "status"] = newValue }
    }
}

public struct ServiceSpec: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var type: ServiceType? {
        get { self[value: "type"] }
        set { self[value: "type"] = newValue }
    }
    public var ports: [ServicePort] {
        get { self[objects: "ports"] }
        set { self[objects: "ports"] = newValue }
    }
    public var selector: [String: String]? {
        get { self[stringMap: "selector"] }
        set { self[stringMap: "selector"] = newValue }
    }
    public var clusterIP: String? {
        get { self[string: "clusterIP"] }
        set { self[string: "clusterIP"] = newValue }
    }
    public var clusterIPs: [String]? {
        get { self[strings: "clusterIPs"] }
        set { self[strings: "clusterIPs"] = newValue }
    }
    /// Deprecated upstream but still the field the predecessor and many charts use.
    public var loadBalancerIP: String? {
        get { self[string: "loadBalancerIP"] }
        set { self[string: "loadBalancerIP"] = newValue }
    }
    public var loadBalancerClass: String? {
        get { self[string: "loadBalancerClass"] }
        set { self[string: "loadBalancerClass"] = newValue }
    }
    /// VIPs answered on the node itself need no NodePorts (beta and on by default from 1.22).
    public var allocateLoadBalancerNodePorts: Bool? {
        get { self[bool: "allocateLoadBalancerNodePorts"] }
        set { self[bool: "allocateLoadBalancerNodePorts"] = newValue }
    }
    public var ipFamilies: [String]? {
        get { self[strings: "ipFamilies"] }
        set { self[strings: "ipFamilies"] = newValue }
    }
    public var ipFamilyPolicy: IPFamilyPolicy? {
        get { self[value: "ipFamilyPolicy"] }
        set { self[value: "ipFamilyPolicy"] = newValue }
    }
    public var externalTrafficPolicy: String? {
        get { self[string: "externalTrafficPolicy"] }
        set { self[string: "externalTrafficPolicy"] = newValue }
    }
}

public struct ServicePort: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public init(name: String? = nil, protocol proto: String = "TCP", port: Int, targetPort: JSONValue? = nil) {
        json = [:]
        self.name = name
        self.protocol = proto
        self.port = port
        if let targetPort { json["targetPort"] = targetPort }
    }

    public var name: String? {
        get { self[string: "name"] }
        set { self[string: "name"] = newValue }
    }
    public var `protocol`: String? {
        get { self[string: "protocol"] }
        set { self[string: "protocol"] = newValue }
    }
    public var port: Int? {
        get { self[int: "port"] }
        set { self[int: "port"] = newValue }
    }
    public var nodePort: Int? {
        get { self[int: "nodePort"] }
        set { self[int: "nodePort"] = newValue }
    }
    /// A number or a named port.
    public var targetPort: JSONValue? {
        get { json["targetPort"] }
        set { json["targetPort"] = newValue }
    }
}

public struct ServiceStatus: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var loadBalancer: LoadBalancerStatus {
        get { self[object: "loadBalancer"] }
        set { self[object: "loadBalancer"] = newValue }
    }
    public var conditions: [Condition] {
        get { self[objects: "conditions"] }
        set { self[objects: "conditions"] = newValue }
    }
}

public struct LoadBalancerStatus: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var ingress: [LoadBalancerIngress] {
        get { self[objects: "ingress"] }
        set { self[objects: "ingress"] = newValue }
    }
}

public struct LoadBalancerIngress: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public init(ip: String, ipMode: LoadBalancerIPMode? = nil) {
        json = [:]
        self.ip = ip
        self.ipMode = ipMode
    }

    public var ip: String? {
        get { self[string: "ip"] }
        set { self[string: "ip"] = newValue }
    }
    public var hostname: String? {
        get { self[string: "hostname"] }
        set { self[string: "hostname"] = newValue }
    }
    /// `VIP` or `Proxy` (Kubernetes 1.29+; older servers drop it).
    public var ipMode: LoadBalancerIPMode? {
        get { self[value: "ipMode"] }
        set { self[value: "ipMode"] = newValue }
    }
}
