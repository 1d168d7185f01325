import Keepalived
import KubeClient

/// Which nodes serve each `externalTrafficPolicy: Local` Service, from its EndpointSlices. Only Local Services'
/// slices are kept (thousands of Cluster Services cost nothing here, and the slice informer keeps only versions);
/// a Service that turns Local after the slices were listed is filled in from an API list
/// (`ServiceController.fillFromAPI`).
struct LocalEndpoints: Sendable {
    /// One slice's nodes: with a ready endpoint, and with a serving one that is terminating.
    struct SliceNodes: Hashable, Sendable {
        var ready: Set<String> = []
        var terminating: Set<String> = []
    }

    private(set) var services: Set<ObjectKey> = []
    /// Per Local Service, its slices' nodes by slice name.
    private var slices: [ObjectKey: [String: SliceNodes]] = [:]
    /// The Local Service of each kept slice: an update or a deletion may name only the slice.
    private var owners: [ObjectKey: ObjectKey] = [:]

    var isEmpty: Bool { services.isEmpty }

    /// Nodes with a ready endpoint; while none has one (a rollout's last old pod), those whose endpoint is
    /// still serving while it terminates, as kube-proxy (1.26+) then sends Local traffic there.
    func nodes(of service: ObjectKey) -> Set<String> {
        let all = slices[service]?.values ?? [:].values
        let ready = all.reduce(into: Set<String>()) { $0.formUnion($1.ready) }
        return ready.isEmpty ? all.reduce(into: Set<String>()) { $0.formUnion($1.terminating) } : ready
    }

    /// Records whether the Service is Local; true when that changed (the caller then fills its slices in).
    mutating func serviceChanged(_ key: ObjectKey, isLocal: Bool) -> Bool {
        if isLocal { return services.insert(key).inserted }
        guard services.remove(key) != nil else { return false }
        for name in slices.removeValue(forKey: key)?.keys ?? [:].keys {
            owners[ObjectKey(namespace: key.namespace, name: name)] = nil
        }
        return true
    }

    /// A slice (its namespace and name) added or changed, with its Service and nodes, or deleted (both nil); true
    /// when a Local Service's nodes changed.
    mutating func sliceChanged(_ slice: ObjectKey, service: ObjectKey?, nodes: SliceNodes?) -> Bool {
        var changed = false
        if let owner = owners[slice], owner != service || nodes == nil {
            changed = set(slice, of: owner, to: nil)
        }
        if let service, let nodes, services.contains(service) {
            changed = set(slice, of: service, to: nodes) || changed
        }
        return changed
    }

    /// A slice read from a list: kept only when the watch has not delivered it already (that copy is newer).
    mutating func sliceFound(_ slice: ObjectKey, service: ObjectKey, nodes: SliceNodes) -> Bool {
        guard owners[slice] == nil else { return false }
        return sliceChanged(slice, service: service, nodes: nodes)
    }

    private mutating func set(_ slice: ObjectKey, of service: ObjectKey, to nodes: SliceNodes?) -> Bool {
        let before = self.nodes(of: service)
        slices[service, default: [:]][slice.name] = nodes
        if slices[service]?.isEmpty == true { slices[service] = nil }
        owners[slice] = nodes == nil ? nil : service
        return self.nodes(of: service) != before
    }

    /// The Service a slice belongs to, and its nodes; nil for a slice without the service-name label.
    static func read(_ slice: some EndpointSliceObject) -> (service: ObjectKey, slice: ObjectKey, nodes: SliceNodes)? {
        guard let service = slice.serviceName, slice.metadata.name != nil else { return nil }
        var nodes = SliceNodes()
        for endpoint in slice.endpoints {
            // A name that is not a valid node name can match no eligible node: not kept.
            guard let node = endpoint.nodeName, (try? NodeName.validate(node)) != nil else { continue }
            let conditions = endpoint.conditions
            if conditions.ready ?? true, conditions.terminating != true {
                nodes.ready.insert(node)
            } else if conditions.serving == true, conditions.terminating == true {
                nodes.terminating.insert(node)
            }
        }
        return (ObjectKey(namespace: slice.metadata.namespace, name: service), slice.key, nodes)
    }

    /// What the slice informer caches: the service label and each endpoint's node and conditions, no addresses.
    static func trimmed<Slice: EndpointSliceObject>(_ slice: Slice) -> Slice {
        var kept = slice.keepingMetadataOnly()
        if let service = slice.serviceName { kept.metadata.labels = [Slice.serviceNameLabel: service] }
        kept.endpoints = slice.endpoints.map { endpoint in
            var trimmed = SliceEndpoint(json: [:])
            trimmed.nodeName = endpoint.nodeName
            trimmed.conditions = endpoint.conditions
            return trimmed
        }
        return kept
    }
}
