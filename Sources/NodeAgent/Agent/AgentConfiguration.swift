import Keepalived

/// What the agent is told by its flags.
public struct AgentConfiguration: Sendable {
    /// The Node annotation where the agent publishes what it holds (JSON).
    public static let stateAnnotation = NodeVRRPState.annotation

    public var nodeName: String
    /// nil: the interface that holds the node's InternalIP.
    public var interface: String?
    public var namespace: String
    public var configMapName: String
    public var keepalivedPath: String
    public var stateDirectory: String
    public var unicast: Bool
    public var advertIntervalMilliseconds: Int
    /// Manage the node that lives in this named network namespace (sandboxes and tests).
    public var networkNamespace: String?
    /// How often netlink is listed to cross-check keepalived's reports.
    public var verifyInterval: Duration
    /// The nft binary that installs `VIPFirewall`; nil: VIPs are not filtered (`--no-vip-firewall`).
    public var nftPath: String?
    /// BIRD 2 and its client, run while a BGPPeer selects this node (`BGPSpeaker`).
    public var birdPath: String
    public var birdcPath: String
    /// Keep Cluster connections across VIP moves (`--keep-connections`); nil: off.
    public var handover: Handover?

    /// conntrackd and conntrack, and kube-proxy's masquerade bit (`VIPFirewall.Handover`).
    public struct Handover: Sendable {
        public var conntrackdPath: String
        public var conntrackPath: String
        public var masqueradeBit: Int

        public init(
            conntrackdPath: String = "/usr/sbin/conntrackd", conntrackPath: String = "/usr/sbin/conntrack",
            masqueradeBit: Int = 14
        ) {
            self.conntrackdPath = conntrackdPath
            self.conntrackPath = conntrackPath
            self.masqueradeBit = masqueradeBit
        }
    }

    public init(
        nodeName: String, interface: String? = nil, namespace: String = "kube-system",
        configMapName: String = "vip-configmap",
        keepalivedPath: String = "/usr/sbin/keepalived", stateDirectory: String = "/run/keepalived-vip-agent",
        unicast: Bool = false, advertIntervalMilliseconds: Int = 200, networkNamespace: String? = nil,
        verifyInterval: Duration = .seconds(2), nftPath: String? = nil, birdPath: String = "/usr/sbin/bird",
        birdcPath: String = "/usr/sbin/birdc", handover: Handover? = nil
    ) {
        self.handover = handover
        self.birdPath = birdPath
        self.birdcPath = birdcPath
        self.nodeName = nodeName
        self.interface = interface
        self.namespace = namespace
        self.configMapName = configMapName
        self.keepalivedPath = keepalivedPath
        self.stateDirectory = stateDirectory
        self.unicast = unicast
        self.advertIntervalMilliseconds = advertIntervalMilliseconds
        self.networkNamespace = networkNamespace
        self.verifyInterval = verifyInterval
        self.nftPath = nftPath
    }
}
