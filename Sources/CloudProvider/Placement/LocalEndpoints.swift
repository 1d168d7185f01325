import Keepalived
import KubeClient

/// Which nodes serve each `externalTrafficPolicy: Local` Service, from its EndpointSlices. Only Local Services'
/// slices are kept (thousands of Cluster Services cost nothing here); a Service that turns Local is filled in
/// from one pass over the slice cache at start, else from an API list (`ServiceController.fillFromAPI`).
struct LocalEndpoints: Sendable {
    /// One slice's nodes: with a ready endpoint, and with a serving one that is terminating.
    struct SliceNodes: Hashable, Sendable {
        var ready: Set<String> = []
        var terminating: Set<String> = []
    }

    private(set) var services: Set<ObjectKey> = []
    private var slices: [ObjectKey: [String: SliceNodes]] = [:]

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
        slices[key] = nil
        return true
    }

    /// A slice added, changed or (nodes nil) deleted; true when a Local Service's nodes changed.
    mutating func sliceChanged(_ name: String, service: ObjectKey, nodes: SliceNodes?) -> Bool {
        guard services.contains(service) else { return false }
        let before = self.nodes(of: service)
        slices[service, default: [:]][name] = nodes
        if slices[service]?.isEmpty == true { slices[service] = nil }
        return self.nodes(of: service) != before
    }

    /// A slice read from a list: kept only when the watch has not delivered it already (that copy is newer).
    mutating func sliceFound(_ name: String, service: ObjectKey, nodes: SliceNodes) -> Bool {
        guard slices[service]?[name] == nil else { return false }
        return sliceChanged(name, service: service, nodes: nodes)
    }

    /// The Service a slice belongs to, and its nodes; nil for a slice without the service-name label.
    static func read(_ slice: some EndpointSliceObject) -> (service: ObjectKey, name: String, nodes: SliceNodes)? {
        guard let service = slice.serviceName, let name = slice.metadata.name else { return nil }
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
        return (ObjectKey(namespace: slice.metadata.namespace, name: service), name, nodes)
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
