import BGP
public import IPAM
public import Keepalived
public import KubeClient

/// The pools the controller may allocate from — the `--cidr` pool and every VIPPool — and the rules
/// that pick one for a Service. Decided without I/O from the objects: a VIPPool whose addresses do
/// not parse or overlap an earlier pool (the flag pool, then older VIPPools, then by name) is not
/// used and says why.
public struct PoolCatalog: Sendable {
    public struct Definition: Sendable {
        public let name: String
        public let pool: Pool
        public let autoAssign: Bool
        /// With no selector, empty means every namespace.
        public let namespaces: [String]
        public let namespaceSelector: LabelSelector?
        public let priority: Int
        public let sharingAcrossNamespaces: Bool
        /// Which eligible nodes may hold its addresses (nil: all of them).
        public var nodeSelector: LabelSelector? = nil
        /// The interface its addresses go on; only nodes whose agent reports it may hold them (nil: the agent's).
        public var interface: String? = nil
        /// Announced by BGP with these attributes (nil: VRRP).
        public var routed: VRRPPlanner.RouteAttributes? = nil
        /// The VIPPool object's; nil for the flag pool.
        public let reference: ObjectReference?
        /// Being deleted: keeps what it gave, gives nothing new.
        public let terminating: Bool

        /// Its addresses may be held by some eligible nodes only (a `nodeSelector`, an `interface`).
        public var choosesNodes: Bool { nodeSelector != nil || interface != nil }

        /// Everything that decides what the pool hands out and to whom: a change re-files the ledger.
        var signature: String {
            let selector = namespaceSelector.map { Self.describe($0) } ?? "-"
            return "\(name)=\(pool)|\(pool.options.avoidBuggyIPs)|\(autoAssign)|\(namespaces)|\(selector)|\(priority)|"
                + "\(sharingAcrossNamespaces)|\(nodeSelector.map { Self.describe($0) } ?? "-")|\(interface ?? "-")|"
                + "\(routed.map { "\($0.communities)/\($0.localPreference ?? 0)" } ?? "VRRP")"
        }

        /// Listed, or labelled to match the selector; with neither set, every namespace.
        public func allows(_ namespace: String, labels: [String: String] = [:]) -> Bool {
            if namespaces.isEmpty && namespaceSelector == nil { return true }
            return namespaces.contains(namespace) || namespaceSelector?.matches(labels) == true
        }

        var whoMayUse: String {
            if namespaces.isEmpty && namespaceSelector == nil { return "every namespace" }
            var parts: [String] = []
            if !namespaces.isEmpty { parts.append("namespaces \(namespaces.joined(separator: ", "))") }
            if let selector = namespaceSelector { parts.append("namespaces labelled \(Self.describe(selector))") }
            return parts.joined(separator: " and ")
        }

        static func describe(_ selector: LabelSelector) -> String {
            var terms = selector.matchLabels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            if case .success(let requirements) = selector.requirements() {
                terms += requirements.map { requirement in
                    switch requirement.op {
                    case .in, .notIn:
                        "\(requirement.key) \(requirement.op.rawValue) (\(requirement.values.joined(separator: ",")))"
                    case .exists: requirement.key
                    case .doesNotExist: "!\(requirement.key)"
                    }
                }
            }
            return terms.isEmpty ? "(anything)" : terms.joined(separator: ",")
        }
    }

    /// Why a VIPPool is not used: its Ready condition and event say this.
    public struct Problem: Error, Sendable, Equatable {
        public let reason: String
        public let message: String
        /// The pool it overlaps, for a `Conflict`.
        public let conflictsWith: String?
    }

    public private(set) var usable: [Definition] = []
    public private(set) var problems: [String: Problem] = [:]

    public init(flagPool: Pool, objects: [VIPPool]) {
        usable = [
            Definition(
                name: flagPool.name, pool: flagPool, autoAssign: true, namespaces: [], namespaceSelector: nil,
                priority: 0, sharingAcrossNamespaces: false, reference: nil, terminating: false)
        ]
        let ordered = objects.sorted {
            ($0.metadata.creationTimestamp ?? "", $0.metadata.name ?? "")
                < ($1.metadata.creationTimestamp ?? "", $1.metadata.name ?? "")
        }
        for object in ordered {
            guard let name = object.metadata.name else { continue }
            guard name != flagPool.name else {
                problems[name] = Problem(
                    reason: "NameTaken",
                    message: "the controller's --cidr pool is named \(name) (--cluster-name); rename this VIPPool",
                    conflictsWith: flagPool.name)
                continue
            }
            let pool: Pool
            do {
                pool = try Pool.parse(
                    name: name, object.spec.addresses, options: .init(avoidBuggyIPs: object.spec.avoidBuggyIPs)
                ).pool
            } catch {
                problems[name] = Problem(reason: "InvalidAddresses", message: error.message, conflictsWith: nil)
                continue
            }
            if let selector = object.spec.namespaceSelector, case .failure(let error) = selector.requirements() {
                problems[name] = Problem(
                    reason: "InvalidNamespaceSelector", message: "spec.namespaceSelector: \(error.message)",
                    conflictsWith: nil)
                continue
            }
            if let selector = object.spec.nodeSelector, case .failure(let error) = selector.requirements() {
                problems[name] = Problem(
                    reason: "InvalidNodeSelector", message: "spec.nodeSelector: \(error.message)", conflictsWith: nil)
                continue
            }
            if let interface = object.spec.interface {
                do { try InterfaceName.validate(interface) } catch {
                    problems[name] = Problem(
                        reason: "InvalidInterface", message: "spec.interface: \(error.message)", conflictsWith: nil)
                    continue
                }
            }
            let routed: VRRPPlanner.RouteAttributes?
            switch Self.announcement(object.spec) {
            case .success(let attributes): routed = attributes
            case .failure(let problem):
                problems[name] = problem
                continue
            }
            if let other = usable.first(where: { $0.pool.overlap(with: pool) != nil }) {
                let range = other.pool.overlap(with: pool).map { "\($0)" } ?? ""
                problems[name] = Problem(
                    reason: "Conflict",
                    message: "its addresses overlap pool \(other.name) (\(range)); none of them are used until the "
                        + "overlap is removed",
                    conflictsWith: other.name)
                continue
            }
            usable.append(
                Definition(
                    name: name, pool: pool, autoAssign: object.spec.autoAssign, namespaces: object.spec.namespaces,
                    namespaceSelector: object.spec.namespaceSelector, priority: object.spec.priority,
                    sharingAcrossNamespaces: object.spec.allowSharingAcrossNamespaces,
                    nodeSelector: object.spec.nodeSelector, interface: object.spec.interface, routed: routed,
                    reference: object.reference,
                    terminating: object.metadata.deletionTimestamp != nil))
        }
    }

    public var pools: [Pool] { usable.map(\.pool) }

    /// `spec.announcement` read: nil for VRRP, the routes' attributes for BGP, or why the pool cannot be used.
    private static func announcement(_ spec: VIPPoolSpec) -> Result<VRRPPlanner.RouteAttributes?, Problem> {
        guard let announcement = spec.announcement else { return .success(nil) }
        func invalid(_ message: String) -> Result<VRRPPlanner.RouteAttributes?, Problem> {
            .failure(Problem(reason: "InvalidAnnouncement", message: message, conflictsWith: nil))
        }
        switch announcement.mode ?? "VRRP" {
        case "VRRP":
            guard announcement.communities.isEmpty, announcement.localPreference == nil else {
                return invalid("spec.announcement: communities and localPreference are for mode BGP")
            }
            return .success(nil)
        case "BGP":
            guard spec.interface == nil else {
                return invalid("spec.interface is for mode VRRP: a BGP pool's addresses go on no interface")
            }
            var communities: [BGPCommunity] = []
            for text in announcement.communities.prefix(65) {
                do { communities.append(try BGPCommunity(parsing: text)) } catch {
                    return invalid("spec.announcement.communities: \(error.message)")
                }
            }
            guard communities.count <= 64 else { return invalid("spec.announcement.communities: at most 64") }
            if let preference = announcement.localPreference, !(0...Int(UInt32.max)).contains(preference) {
                return invalid("spec.announcement.localPreference \(preference) is out of range; use 0-4294967295")
            }
            return .success(
                VRRPPlanner.RouteAttributes(
                    communities: communities, localPreference: announcement.localPreference.map { UInt32($0) }))
        case let other:
            return invalid("spec.announcement.mode \"\(other.prefix(64))\" is not allowed; use VRRP or BGP")
        }
    }

    /// Pools whose addresses Services of different namespaces may share.
    public var crossNamespacePools: Set<String> { Set(usable.filter(\.sharingAcrossNamespaces).map(\.name)) }

    /// Whether a namespace's labels decide anything (then a label change re-queues its Services).
    public var selectsByLabels: Bool { usable.contains { $0.namespaceSelector != nil } }

    public func definition(named name: String) -> Definition? { usable.first { $0.name == name } }

    /// Whether any pool chooses nodes (then a node's labels decide where its addresses may be held).
    public var selectsNodes: Bool { usable.contains(where: \.choosesNodes) }

    public func definition(containing address: IPAddress) -> Definition? {
        usable.first { $0.pool.contains(address) }
    }

    /// The pools a Service in `namespace` may get a new address from, in the order they are tried:
    /// the one its annotation names, else every autoAssign pool it may use, highest priority first,
    /// then by name. Requested addresses must lie in a pool the namespace may use.
    public func candidates(
        namespace: String, labels: [String: String] = [:], annotation: String?, requested: [IPAddress]
    ) throws(ServiceRefusal) -> [Definition] {
        for address in requested {
            guard let owner = definition(containing: address) else { continue }  // the allocator refuses it
            guard owner.allows(namespace, labels: labels) else {
                throw ServiceRefusal(
                    .poolNotAllowed,
                    "\(address) belongs to pool \(owner.name), which \(owner.whoMayUse) may use; this "
                        + "Service is in \(namespace)")
            }
        }
        if let annotation, !annotation.isEmpty {
            guard let named = definition(named: annotation) else {
                if let problem = problems[annotation] {
                    throw ServiceRefusal(
                        .poolNotReady, "pool \(annotation) is not usable: \(problem.message)")
                }
                throw ServiceRefusal(
                    .poolNotFound,
                    "no pool \(annotation) (annotation \(VIPPool.serviceAnnotation)); pools: "
                        + usable.map(\.name).joined(separator: ", "))
            }
            guard named.allows(namespace, labels: labels) else {
                throw ServiceRefusal(
                    .poolNotAllowed,
                    "pool \(named.name) may be used by \(named.whoMayUse) only; this Service is in \(namespace)"
                )
            }
            guard !named.terminating else {
                throw ServiceRefusal(.poolTerminating, "pool \(named.name) is being deleted")
            }
            return [named]
        }
        let automatic = usable.filter { $0.autoAssign && !$0.terminating && $0.allows(namespace, labels: labels) }
            .sorted { ($1.priority, $0.name) < ($0.priority, $1.name) }
        guard !automatic.isEmpty || !requested.isEmpty else {
            throw ServiceRefusal(
                .noPoolForNamespace,
                "no autoAssign pool allows namespace \(namespace); name one with the annotation "
                    + "\(VIPPool.serviceAnnotation)")
        }
        return automatic
    }
}
