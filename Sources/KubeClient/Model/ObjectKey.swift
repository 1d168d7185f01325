import Synchronization

/// Which object: its namespace (nil for cluster-scoped kinds) and name. The key of informer caches, the work
/// queue and the ledger; written `namespace/name` only where text is wanted (logs, the ConfigMap's data).
public struct ObjectKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let namespace: String?
    public let name: String

    public init(namespace: String?, name: String) {
        self.namespace = namespace.flatMap { $0.isEmpty ? nil : NamespaceNames.shared($0) }
        self.name = name
    }

    /// `namespace/name`, or `name` for a cluster-scoped object, as kubectl and kube-keepalived-vip write them.
    public init(_ text: some StringProtocol) {
        if let slash = text.firstIndex(of: "/") {
            self.init(namespace: String(text[..<slash]), name: String(text[text.index(after: slash)...]))
        } else {
            self.init(namespace: nil, name: String(text))
        }
    }

    public var description: String { namespace.map { "\($0)/\(name)" } ?? name }

    public static func < (lhs: ObjectKey, rhs: ObjectKey) -> Bool {
        (lhs.namespace ?? "", lhs.name) < (rhs.namespace ?? "", rhs.name)
    }
}

extension ObjectKey: ExpressibleByStringLiteral {
    public init(stringLiteral text: String) {
        self.init(text)
    }
}

/// One copy of each namespace name for every key: a name longer than 15 bytes is a heap object, and each object
/// decoded from the API brings its own copy, kept by the caches, the ledger and the allocator (four or five per
/// Service). A cluster has few namespaces; the table is bounded all the same.
enum NamespaceNames {
    private static let table = Mutex<Set<String>>([])
    static let limit = 16_384

    static func shared(_ name: String) -> String {
        // Up to 15 bytes a String is stored inline: nothing to share.
        guard name.utf8.count > 15 else { return name }
        return table.withLock { table in
            if let index = table.firstIndex(of: name) { return table[index] }
            if table.count < limit { table.insert(name) }
            return name
        }
    }
}
