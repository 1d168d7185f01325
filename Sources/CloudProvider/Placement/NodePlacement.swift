import IPAM
import Keepalived
import KubeClient

/// Why a Service's VIP is held by no node.
enum PlacementProblem: Hashable, Sendable {
    /// No node is eligible for its pool (`--node-selector`, the exclude label, the pool's `nodeSelector`).
    case noEligibleNode(pool: String)
    /// Local: no eligible node has a serving endpoint.
    case noEndpoints
    /// The nodes that may hold it lead no VRRP group.
    case noLeader(nodes: [String])
}

/// Which nodes may hold which VIP, decided on values: the eligible nodes (the controller's `--node-selector`
/// informer, the exclusion label, valid names), a pool's nodes (its `nodeSelector` and `interface`), a Local
/// Service's nodes (a ready endpoint there), the groups' leaders, and why a Service ends up with no node.
/// The actor feeds it what its informers see and turns its answers into the plan, events and metrics.
struct NodePlacement: Sendable {
    /// What the Node objects say, once read (`nodesSeen`).
    struct Nodes: Sendable {
        /// The eligible nodes, sorted: part of the VRRP plan.
        var eligible: [String] = []
        /// Left out by the exclusion label.
        var excluded = 0
        /// Left out because the name cannot go into keepalived.conf, with the reason.
        var rejected: [(name: String, error: any Error)] = []
        /// The group leaders changed (Local VIPs follow them).
        var mastersChanged = false
        /// A label or reported interface of an eligible node changed (pools that choose nodes look again).
        var poolViewChanged = false
    }

    /// Whether the exclusion label (`node.kubernetes.io/exclude-from-external-load-balancers`) is honoured.
    let honorsExcludeLabel: Bool
    /// Labels of the eligible nodes: pools with a `nodeSelector` choose among them.
    private(set) var labels: [String: [String: String]] = [:]
    /// The interfaces each node's agent reports: pools with a `spec.interface` choose among them.
    private(set) var interfaces: [String: Set<String>] = [:]
    /// Per instance name, the node whose agent reports MASTER of it alone (Local VIPs follow the leaders).
    private(set) var masters: [String: String] = [:]
    /// The group (VRID) of each restricted VIP in the plan last computed (or, after a restart, found in the
    /// ConfigMap): such VIPs keep their groups. Only those: the whole plan is not kept for this.
    var restrictedGroups: [IPAddress: Int] = [:]
    /// Local VIPs whose nodes lead no group, in the plan last computed.
    private(set) var unplaced: Set<IPAddress> = []

    init(honorsExcludeLabel: Bool) {
        self.honorsExcludeLabel = honorsExcludeLabel
    }

    /// Reads every Node: which are eligible, what their agents report (interfaces, the instances they lead).
    mutating func nodesSeen(_ nodes: [Node]) -> Nodes {
        var result = Nodes()
        var labels: [String: [String: String]] = [:]
        var states: [String: NodeVRRPState] = [:]
        for node in nodes {
            guard let name = node.metadata.name else { continue }
            // Parsed once here for the pools' interfaces and the groups' leaders.
            states[name] = NodeVRRPState(annotation: node.metadata.annotations[NodeVRRPState.annotation])
            if honorsExcludeLabel, node.metadata.labels[ControllerConfiguration.excludeLabel] != nil {
                result.excluded += 1
                continue
            }
            do {
                try NodeName.validate(name)
                labels[name] = node.metadata.labels
            } catch {
                result.rejected.append((name, error))
            }
        }
        result.eligible = labels.keys.sorted()
        result.mastersChanged = mastersSeen(states)
        let interfaces = states.mapValues(\.validInterfaces)
        if labels != self.labels || interfaces != self.interfaces {
            self.labels = labels
            self.interfaces = interfaces
            result.poolViewChanged = true
        }
        return result
    }

    /// Which node each agent says leads an instance; true when that changed.
    private mutating func mastersSeen(_ states: [String: NodeVRRPState]) -> Bool {
        var claims: [String: [String]] = [:]
        for (name, state) in states where state.keepalived == "running" {
            for (instance, vrrpState) in state.instances where vrrpState == "MASTER" {
                claims[instance, default: []].append(name)
            }
        }
        let masters = claims.compactMapValues { $0.count == 1 ? $0[0] : nil }
        guard masters != self.masters else { return false }
        self.masters = masters
        return true
    }

    /// The eligible nodes a pool's addresses may be held by: those its `nodeSelector` matches that have its
    /// `interface` (as their agents report).
    func nodes(of pool: PoolCatalog.Definition) -> Set<String> {
        Set(
            labels.filter { name, labels in
                (pool.nodeSelector?.matches(labels) ?? true)
                    && (pool.interface.map { interfaces[name]?.contains($0) == true } ?? true)
            }.keys)
    }

    /// The planner's input: per Local VIP the nodes with an endpoint of its Service (Services sharing an address
    /// need a node that serves all of them; when none does, any that serves one), within the nodes its pool's
    /// `nodeSelector` picks.
    func placement(
        of addresses: [IPAddress], ledger: Ledger, catalog: PoolCatalog, local: LocalEndpoints
    ) -> Placement {
        var allowedNodes: [IPAddress: Set<String>] = [:]
        var union: [IPAddress: Set<String>] = [:]
        for key in local.services {
            guard let record = ledger.records[key] else { continue }
            let nodes = local.nodes(of: key)
            for address in record.addresses {
                allowedNodes[address] = allowedNodes[address].map { $0.intersection(nodes) } ?? nodes
                union[address, default: []].formUnion(nodes)
            }
        }
        for (address, nodes) in allowedNodes where nodes.isEmpty { allowedNodes[address] = union[address] }
        let selecting = catalog.usable.filter(\.choosesNodes)
        if !selecting.isEmpty {
            let chosen = Dictionary(uniqueKeysWithValues: selecting.map { ($0.name, nodes(of: $0)) })
            for address in addresses {
                guard let pool = selecting.first(where: { $0.pool.contains(address) }), let nodes = chosen[pool.name]
                else { continue }
                allowedNodes[address] = allowedNodes[address].map { $0.intersection(nodes) } ?? nodes
            }
        }
        return Placement(allowedNodes: allowedNodes, masters: masters, currentGroups: restrictedGroups)
    }

    /// Remembers where the plan put restricted VIPs (they keep their groups) and which wait for a leader.
    mutating func planned(_ plan: VRRPPlan, unplaced: [IPAddress]) {
        restrictedGroups = plan.restrictedGroups
        self.unplaced = Set(unplaced)
    }

    /// Per usable pool, its eligible nodes; per Service no node may serve, why.
    func problems(ledger: Ledger, catalog: PoolCatalog, local: LocalEndpoints) -> (
        eligibleByPool: [String: Set<String>], problems: [ObjectKey: PlacementProblem]
    ) {
        let eligibleByPool = Dictionary(catalog.usable.map { ($0.name, nodes(of: $0)) }, uniquingKeysWith: { $1 })
        var problems: [ObjectKey: PlacementProblem] = [:]
        for (key, record) in ledger.records {
            guard let address = record.addresses.first,
                let pool = catalog.definition(containing: address), let eligible = eligibleByPool[pool.name]
            else { continue }
            if eligible.isEmpty {
                problems[key] = .noEligibleNode(pool: pool.name)
                continue
            }
            let nodes = local.services.contains(key) ? local.nodes(of: key).intersection(eligible) : eligible
            if nodes.isEmpty {
                problems[key] = .noEndpoints
            } else if record.addresses.contains(where: unplaced.contains) {
                problems[key] = .noLeader(nodes: nodes.sorted())
            }
        }
        return (eligibleByPool, problems)
    }
}
