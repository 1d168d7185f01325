/// A core/v1 Event, the kind `kubectl describe` shows.
public struct Event: KubernetesObject {
    public static let resource = ResourceDescriptor(
        group: "", version: "v1", kind: "Event", plural: "events", namespaced: true)
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var involvedObject: ObjectReference {
        get { self[object: "involvedObject"] }
        set { self[object: "involvedObject"] = newValue }
    }
    public var reason: String? {
        get { self[string: "reason"] }
        set { self[string: "reason"] = newValue }
    }
    public var message: String? {
        get { self[string: "message"] }
        set { self[string: "message"] = newValue }
    }
    /// `Normal` or `Warning`.
    public var type: String? {
        get { self[string: "type"] }
        set { self[string: "type"] = newValue }
    }
    public var count: Int? {
        get { self[int: "count"] }
        set { self[int: "count"] = newValue }
    }
    public var firstTimestamp: String? {
        get { self[string: "firstTimestamp"] }
        set { self[string: "firstTimestamp"] = newValue }
    }
    public var lastTimestamp: String? {
        get { self[string: "lastTimestamp"] }
        set { self[string: "lastTimestamp"] = newValue }
    }
    public var sourceComponent: String? {
        get { json["source"]?.objectValue?["component"]?.stringValue }
        set { json["source"] = newValue.map { .object(["component": .string($0)]) } }
    }
    public var reportingComponent: String? {
        get { self[string: "reportingComponent"] }
        set { self[string: "reportingComponent"] = newValue }
    }
    public var reportingInstance: String? {
        get { self[string: "reportingInstance"] }
        set { self[string: "reportingInstance"] = newValue }
    }
}
