public struct ConfigMap: KubernetesObject {
    public static let resource = ResourceDescriptor(
        group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true)
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public init(name: String, namespace: String, data: [String: String] = [:]) {
        json = [:]
        metadata = ObjectMeta(name: name, namespace: namespace)
        self.data = data
    }

    public var data: [String: String] {
        get { self[stringMap: "data"] ?? [:] }
        set { self[stringMap: "data"] = newValue }
    }
}
