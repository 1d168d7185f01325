public import KubeClient

/// What initialising a Node takes for a cluster whose kubelets run with `--cloud-provider=external`:
/// they taint their Node `node.cloudprovider.kubernetes.io/uninitialized` until a cloud provider
/// removes it; an LB-only provider that never does leaves the node unschedulable forever. Decided
/// here without I/O: the taint goes, a `providerID` is set when the node has none, addresses and
/// every other taint stay as they are.
public struct NodeInitialization: Sendable {
    public static let taintKey = "node.cloudprovider.kubernetes.io/uninitialized"

    public let node: String
    /// The node's taints without ours, in their order.
    public let remainingTaints: [Taint]
    /// Set only when the node had none.
    public let providerID: String?
    let resourceVersion: String?

    /// `keepalived-lb://CLUSTER/NODE`: says who initialised the node, unique per cluster.
    public static func providerID(cluster: String, node: String) -> String {
        "keepalived-lb://\(cluster)/\(node)"
    }

    /// Nil when the node carries no `uninitialized` taint: a node is initialised once, never again.
    public init?(node: Node, cluster: String) {
        guard let name = node.metadata.name, node.spec.taints.contains(where: { $0.key == Self.taintKey }) else {
            return nil
        }
        self.node = name
        remainingTaints = node.spec.taints.filter { $0.key != Self.taintKey }
        let existing = node.spec.providerID ?? ""
        providerID = existing.isEmpty ? Self.providerID(cluster: cluster, node: name) : nil
        resourceVersion = node.metadata.resourceVersion
    }

    /// A merge patch of the taint list (and providerID) guarded by the node's resourceVersion: a
    /// taint added meanwhile is never overwritten (409; the next watch event decides again).
    public var patch: Patch {
        var spec: JSONObject = ["taints": .array(remainingTaints.map { .object($0.json) })]
        if let providerID { spec["providerID"] = .string(providerID) }
        var metadata: JSONObject = [:]
        if let resourceVersion { metadata["resourceVersion"] = .string(resourceVersion) }
        return .merge(.object(["metadata": .object(metadata), "spec": .object(spec)]))
    }
}
