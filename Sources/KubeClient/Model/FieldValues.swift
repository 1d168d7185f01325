// The closed sets of values some Kubernetes fields take, as enums (a typo is a compile error, not a string).

/// `spec.type` of a Service.
public enum ServiceType: String, Sendable, CaseIterable {
    case clusterIP = "ClusterIP"
    case nodePort = "NodePort"
    case loadBalancer = "LoadBalancer"
    case externalName = "ExternalName"
}

/// `spec.ipFamilyPolicy` of a Service; absent means single-stack.
public enum IPFamilyPolicy: String, Sendable, CaseIterable {
    case singleStack = "SingleStack"
    case preferDualStack = "PreferDualStack"
    case requireDualStack = "RequireDualStack"
}

/// `status` of a condition.
public enum ConditionStatus: String, Sendable, CaseIterable {
    case `true` = "True"
    case `false` = "False"
    case unknown = "Unknown"
}

/// `type` of a Node's address.
public enum NodeAddressType: String, Sendable, CaseIterable {
    case internalIP = "InternalIP"
    case externalIP = "ExternalIP"
    case hostname = "Hostname"
    case internalDNS = "InternalDNS"
    case externalDNS = "ExternalDNS"
}

/// `status.loadBalancer.ingress[].ipMode`: `VIP` lets kube-proxy short-cut in-cluster traffic to the address.
public enum LoadBalancerIPMode: String, Sendable, CaseIterable {
    case vip = "VIP"
    case proxy = "Proxy"
}

extension JSONBacked {
    /// A string field read as one of its known values: nil when absent or unknown (a newer server's value).
    public subscript<Value: RawRepresentable>(value key: String, as _: Value.Type = Value.self) -> Value?
    where Value.RawValue == String {
        get { json[key]?.stringValue.flatMap(Value.init(rawValue:)) }
        set { json[key] = newValue.map { .string($0.rawValue) } }
    }
}
