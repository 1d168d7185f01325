/// A `metav1.LabelSelector` (matchLabels and matchExpressions), evaluated here: a VIPPool's
/// namespaceSelector is checked against each namespace's labels.
public struct LabelSelector: JSONBacked {
    public var json: JSONObject
    public init(json: JSONObject) { self.json = json }

    public var matchLabels: [String: String] {
        get { self[stringMap: "matchLabels"] ?? [:] }
        set { self[stringMap: "matchLabels"] = newValue }
    }

    public struct Requirement: Sendable, Equatable {
        public enum Operator: String, Sendable {
            case `in` = "In"
            case notIn = "NotIn"
            case exists = "Exists"
            case doesNotExist = "DoesNotExist"
        }
        public let key: String
        public let op: Operator
        public let values: [String]
    }

    /// The expressions, or a message naming the first one that is not a valid requirement.
    public func requirements() -> Result<[Requirement], KubeError> {
        var result: [Requirement] = []
        for (index, value) in (json["matchExpressions"]?.arrayValue ?? []).enumerated() {
            let object = value.objectValue ?? [:]
            let values = object["values"]?.arrayValue?.compactMap(\.stringValue) ?? []
            guard let key = object["key"]?.stringValue, !key.isEmpty,
                let op = object["operator"]?.stringValue.flatMap(Requirement.Operator.init(rawValue:))
            else {
                return .failure(
                    KubeError(
                        .invalid,
                        "matchExpressions[\(index)] needs a key and an operator In, NotIn, Exists or "
                            + "DoesNotExist"))
            }
            if (op == .in || op == .notIn) == values.isEmpty {
                return .failure(
                    KubeError(
                        .invalid,
                        "matchExpressions[\(index)] (\(key) \(op.rawValue)): In and NotIn need values, "
                            + "Exists and DoesNotExist take none"))
            }
            result.append(Requirement(key: key, op: op, values: values))
        }
        return .success(result)
    }

    /// True when every label and expression holds (an empty selector matches everything, as Kubernetes').
    public func matches(_ labels: [String: String]) -> Bool {
        guard case .success(let requirements) = requirements() else { return false }
        for (key, value) in matchLabels where labels[key] != value { return false }
        for requirement in requirements {
            let value = labels[requirement.key]
            switch requirement.op {
            case .in: if !(value.map(requirement.values.contains) ?? false) { return false }
            case .notIn: if let value, requirement.values.contains(value) { return false }
            case .exists: if value == nil { return false }
            case .doesNotExist: if value != nil { return false }
            }
        }
        return true
    }
}
