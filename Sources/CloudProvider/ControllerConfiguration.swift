public import IPAM
public import Keepalived
public import KubeClient

/// What the controller is told by flags and the legacy environment.
public struct ControllerConfiguration: Sendable {
    /// The cleanup finalizer of the upstream service controller contract.
    public static let finalizer = "service.kubernetes.io/load-balancer-cleanup"
    /// Requested addresses, a comma list (one per family for dual-stack).
    public static let requestedIPsAnnotation = "keepalived-lb.io/load-balancer-ips"
    public static let conditionType = "keepalived-lb.io/IPAllocated"

    public var pool: Pool
    public var namespace: String
    public var configMapName: String
    /// nil: serve Services without a class; set: serve exactly that class.
    public var loadBalancerClass: String?
    public var defaultForwardMethod: ForwardMethod?
    public var clusterName: String
    public var workers: Int
    /// Only Services of this namespace (nil: all). For tests that share one API server, and
    /// for operators who want a provider per namespace.
    public var serviceNamespace: String?
    /// How VIPs become VRRP instances (cluster name, VRID range, group count).
    public var planner: VRRPPlanner
    /// Label selector for the nodes that may hold VIPs (nil: every node). Nodes labelled
    /// `node.kubernetes.io/exclude-from-external-load-balancers` never do.
    public var nodeSelector: String?
    /// How long a VIP may be held by two nodes before it is reported as split brain: longer than
    /// a handover (failover window plus the agents' publication delay).
    public var splitBrainWindow: Duration = .seconds(3)
    /// Bytes of data the VIP ConfigMap may hold: the API server's limit (a test sets less to reach it quickly).
    public var configMapLimit = ConfigMapFull.defaultLimit
    /// Remove the `node.cloudprovider.kubernetes.io/uninitialized` taint that kubelets run with
    /// `--cloud-provider=external` set, and give such nodes a providerID. Off unless asked: a providerID is
    /// permanent, and another cloud provider may be the one meant to initialise the Node.
    public var initializeNodes = false
    /// Nodes labelled `excludeLabel` hold no VIP (upstream's contract). Off (`--ignore-exclude-label`) for compact
    /// clusters where kubeadm or Talos put that label on every node, control planes that also serve.
    public var honorsExcludeLabel = true

    /// The upstream label that keeps a node out of every load balancer.
    public static let excludeLabel = "node.kubernetes.io/exclude-from-external-load-balancers"
    /// kube-keepalived-vip's default VRID is 50 (and keepalived's samples use 51): a default range
    /// clear of both lets the old DaemonSet and the new agents share an L2 segment while migrating.
    public static let defaultVRIDRange = "100-107"
    public static let defaultPlanner = try! VRRPPlanner(
        cluster: "kubernetes", vrids: VRIDRange(parsing: defaultVRIDRange), groups: 8)

    public init(
        pool: Pool, namespace: String = "kube-system", configMapName: String = "vip-configmap",
        loadBalancerClass: String? = nil,
        defaultForwardMethod: ForwardMethod? = nil, clusterName: String = "kubernetes", workers: Int = 4,
        serviceNamespace: String? = nil,
        planner: VRRPPlanner = defaultPlanner, nodeSelector: String? = nil
    ) {
        self.pool = pool
        self.namespace = namespace
        self.configMapName = configMapName
        self.loadBalancerClass = loadBalancerClass
        self.defaultForwardMethod = defaultForwardMethod
        self.clusterName = clusterName
        self.workers = workers
        self.serviceNamespace = serviceNamespace
        self.planner = planner
        self.nodeSelector = nodeSelector
    }

    /// The spec fields `serves` reads.
    static let servedSpecFields: Set<String> = ["type", "loadBalancerClass"]

    /// A LoadBalancer Service of our class: without `--load-balancer-class`, those that set no class
    /// (a class names another implementation); with it, exactly that class.
    public func serves(_ service: Service) -> Bool {
        service.spec.type == .loadBalancer && service.spec.loadBalancerClass == loadBalancerClass
    }
}
