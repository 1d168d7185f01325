public import IPAM

/// Everything one node's keepalived.conf is rendered from. The agent and `kubectl keepalived render` both build it
/// and call `render`, so the plugin shows the text the agent writes, not a re-implementation of it.
public struct NodeRenderInput: Sendable {
    /// A node of the plan as its Node object shows it: its InternalIP addresses and its agent's published state.
    public struct Member: Hashable, Sendable {
        public let name: String
        public let internalAddresses: [IPAddress]
        /// The `NodeVRRPState.annotation` its agent published (nil: none, or an unreadable one).
        public let state: NodeVRRPState?

        public init(name: String, internalAddresses: [IPAddress], state: NodeVRRPState?) {
            self.name = name
            self.internalAddresses = internalAddresses
            self.state = state
        }
    }

    public let plan: VRRPPlan
    public let node: Member
    /// The plan's other nodes that exist, in plan order.
    public let peers: [Member]
    public let interface: String
    public let unicast: Bool
    public let advertIntervalMilliseconds: Int
    public let stateDirectory: String
    /// The node's interfaces (nil: unknown); a VIP whose pool names another interface is left out.
    public let interfaces: Set<String>?

    /// `member`: the plan's nodes by name (those without a Node object are left out).
    public init(
        plan: VRRPPlan, node: Member, member: (String) -> Member?, interface: String, unicast: Bool,
        advertIntervalMilliseconds: Int, stateDirectory: String, interfaces: Set<String>?
    ) {
        self.plan = plan
        self.node = node
        peers = plan.nodes.filter { $0 != node.name }.compactMap(member)
        self.interface = interface
        self.unicast = unicast
        self.advertIntervalMilliseconds = advertIntervalMilliseconds
        self.stateDirectory = stateDirectory
        self.interfaces = interfaces
    }

    /// Where keepalived reports state changes to the agent, under its `--state-dir`.
    public static func notifyFIFO(in stateDirectory: String) -> String { stateDirectory + "/notify.fifo" }

    /// The peers' addresses keepalived sends unicast adverts to (none with multicast).
    public var unicastPeers: [IPAddress] { unicast ? peers.flatMap(\.internalAddresses) : [] }

    /// What the adverts list: tokens once every peer's agent says it renders them.
    public var adverts: AdvertisedAddresses { .agreed(byPeers: peers.map(\.state)) }

    /// The VIPs of `applied` the agent holds itself (`VRRPPlan.soleAddresses`), left out of keepalived.conf: only
    /// with token adverts, where the nodes' lists of an instance's VIPs may differ.
    public func agentHeld(in applied: VRRPPlan) -> [IPAddress] {
        guard adverts == .token else { return [] }
        // The view keeps no node lists: they are the whole plan's; the view says which VIPs apply here.
        let present = Set(applied.addresses)
        return plan.soleAddresses(of: node.name).filter { present.contains($0) }
    }

    /// The plan as this node applies it, its keepalived.conf, and the VIPs the agent holds outside keepalived.
    /// `startingAsMaster`: instances the agent starts as master at once (new to the cluster, preferred here); the
    /// plugin has none.
    public func render(startingAsMaster: Set<String> = []) throws(KeepalivedError) -> (
        applied: VRRPPlan, config: String, agentHeld: [IPAddress]
    ) {
        let settings = try NodeSettings(
            nodeName: node.name, interface: interface, sourceAddresses: node.internalAddresses,
            unicastPeers: unicastPeers, advertIntervalMilliseconds: advertIntervalMilliseconds,
            notifyFIFO: Self.notifyFIFO(in: stateDirectory))
        let adverts = adverts
        let applied = plan.applied(by: node.name, adverts: adverts, interfaces: interfaces)
        let agentHeld = agentHeld(in: applied)
        let config = KeepalivedConfig.render(
            plan: applied.removing(Set(agentHeld)), node: settings, startingAsMaster: startingAsMaster,
            adverts: adverts)
        return (applied, config, agentHeld)
    }
}
