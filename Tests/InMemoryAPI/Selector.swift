import Foundation
import KubeClient

/// Label and field selectors as the API server reads them (equality, inequality, existence, `in`,
/// `notin`); fields only `metadata.name` and `metadata.namespace`, which is all the product selects on.
struct Selector: Sendable {
    private enum Requirement: Sendable {
        case equals(String, String)
        case notEquals(String, String)
        case exists(String)
        case absent(String)
        case within(String, Set<String>)
        case outside(String, Set<String>)

        func matches(_ values: [String: String]) -> Bool {
            switch self {
            case .equals(let key, let value): values[key] == value
            case .notEquals(let key, let value): values[key] != value
            case .exists(let key): values[key] != nil
            case .absent(let key): values[key] == nil
            case .within(let key, let set): values[key].map(set.contains) ?? false
            case .outside(let key, let set): !(values[key].map(set.contains) ?? false)
            }
        }
    }

    private let labels: [Requirement]
    private let fields: [Requirement]

    init(labelSelector: String?, fieldSelector: String?) throws(KubeError) {
        labels = try Self.parse(labelSelector ?? "", what: "labelSelector")
        fields = try Self.parse(fieldSelector ?? "", what: "fieldSelector")
        for field in fields {
            switch field {
            case .equals(let key, _), .notEquals(let key, _):
                guard key == "metadata.name" || key == "metadata.namespace" else {
                    throw KubeError(.badRequest, "field selector \(key) is not supported")
                }
            default:
                throw KubeError(.badRequest, "field selectors take only =, == and !=")
            }
        }
    }

    func matches(_ object: JSONObject) -> Bool {
        let metadata = ObjectMeta(json: object["metadata"]?.objectValue ?? [:])
        var fieldValues = ["metadata.name": metadata.name ?? ""]
        fieldValues["metadata.namespace"] = metadata.namespace ?? ""
        let labelValues = metadata.labels
        return labels.allSatisfy { $0.matches(labelValues) } && fields.allSatisfy { $0.matches(fieldValues) }
    }

    private static func parse(_ text: String, what: String) throws(KubeError) -> [Requirement] {
        var terms: [String] = []
        var depth = 0
        var current = ""
        for character in text {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if character == ",", depth == 0 {
                terms.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        terms.append(current)
        var requirements: [Requirement] = []
        for raw in terms {
            let term = raw.trimmingSpaces
            if term.isEmpty { continue }
            let words = term.split(separator: " ", maxSplits: 1).map(String.init)
            if words.count == 2, let set = Self.set(words[1], prefix: "in") {
                requirements.append(.within(words[0], set))
            } else if words.count == 2, let set = Self.set(words[1], prefix: "notin") {
                requirements.append(.outside(words[0], set))
            } else if let range = term.range(of: "!=") {
                requirements.append(
                    .notEquals(String(term[..<range.lowerBound]).trimmingSpaces, String(term[range.upperBound...])))
            } else if let range = term.range(of: "==") ?? term.range(of: "=") {
                requirements.append(
                    .equals(String(term[..<range.lowerBound]).trimmingSpaces, String(term[range.upperBound...])))
            } else if term.hasPrefix("!") {
                requirements.append(.absent(String(term.dropFirst())))
            } else if !term.contains(" ") {
                requirements.append(.exists(term))
            } else {
                throw KubeError(.badRequest, "\(what) \(text): cannot parse \(term)")
            }
        }
        return requirements
    }

    private static func set(_ text: String, prefix: String) -> Set<String>? {
        let trimmed = text.trimmingSpaces
        guard trimmed.hasPrefix(prefix) else { return nil }
        let rest = trimmed.dropFirst(prefix.count).trimmingSpaces
        guard rest.hasPrefix("("), rest.hasSuffix(")") else { return nil }
        return Set(rest.dropFirst().dropLast().split(separator: ",").map { String($0).trimmingSpaces })
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
