public struct Namespace: KubernetesObject {
    public static let resource = ResourceDescriptor(
        group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false)
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public init(name: String) {
        json = [:]
        metadata = ObjectMeta(name: name)
    }
}
