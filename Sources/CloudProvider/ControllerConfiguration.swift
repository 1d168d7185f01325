import IPAM
import Keepalived

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

    public init(pool: Pool, namespace: String = "kube-system", configMapName: String = "vip-configmap", loadBalancerClass: String? = nil,
                defaultForwardMethod: ForwardMethod? = nil, clusterName: String = "kubernetes", workers: Int = 4, serviceNamespace: String? = nil) {
        self.pool = pool
        self.namespace = namespace
        self.configMapName = configMapName
        self.loadBalancerClass = loadBalancerClass
        self.defaultForwardMethod = defaultForwardMethod
        self.clusterName = clusterName
        self.workers = workers
        self.serviceNamespace = serviceNamespace
    }
}
