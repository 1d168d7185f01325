import Foundation

/// A v1 Secret: read only for what a component is told to read (a BGP password); its values are never logged.
public struct Secret: KubernetesObject {
    public static let resource = ResourceDescriptor(
        group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true)
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public init(name: String, namespace: String, stringData: [String: String]) {
        json = [:]
        metadata = ObjectMeta(name: name, namespace: namespace)
        self[stringMap: "data"] = stringData.mapValues { Data($0.utf8).base64EncodedString() }
    }

    /// The value of `key` as text (nil when absent, not base64 or not UTF-8).
    public func text(_ key: String) -> String? {
        guard let encoded = self[stringMap: "data"]?[key], let data = Data(base64Encoded: encoded) else { return nil }
        return String(data: data, encoding: .utf8)
    }
}
