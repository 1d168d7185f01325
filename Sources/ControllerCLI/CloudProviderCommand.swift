public import ArgumentParser
import CloudProvider
import CommandLineSupport
import ControllerOptions
import Foundation
import IPAM
import Keepalived
import KubeClient
import Logging
import Metrics
import Observability
import ServiceLifecycle

/// `keepalived-cloud-provider`: LoadBalancer addresses for bare-metal clusters run with
/// `--cloud-provider=external`. Reads the predecessor's environment variables too.
public struct CloudProviderCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "keepalived-cloud-provider",
        abstract:
            "Give every type: LoadBalancer Service an address from this cluster's pools and publish them for "
            + "keepalived.",
        // One paragraph per line: the terminal wraps them, not the source.
        discussion: [
            "Pools come from --cidr (repeatable) or, as before, KEEPALIVED_SERVICE_CIDR (comma list). Entries are "
                + "CIDRs (10.210.1.64/26, 2001:db8::/120), ranges (10.210.1.70-10.210.1.90) or single addresses.",
            "Services ask for a specific address with the annotation \(ControllerConfiguration.requestedIPsAnnotation) "
                + "(a comma list for dual-stack) or spec.loadBalancerIP, and for a forward method with "
                + "\(ForwardMethod.annotation).",
        ].joined(separator: "\n\n"),
        version: BuildInfo.version
    )

    @OptionGroup var common: CommonOptions

    @OptionGroup(title: "Pool and VRRP plan")
    var pool: PoolOptions

    @OptionGroup(title: "VIP ConfigMap")
    var configMap: ConfigMapOptions

    @Option(
        help: "Forward method for Services without the annotation: NAT or DR. Env: KEEPALIVED_DEFAULT_FORWARD_METHOD.")
    var defaultForwardMethod: String?

    @Option(help: "Serve only Services with this spec.loadBalancerClass. Default: Services without a class.")
    var loadBalancerClass: String?

    @Option(help: "Serve only Services of this namespace. Default: all namespaces.")
    var watchNamespace: String?

    @Option(
        parsing: .next, help: "Elect a leader through a Lease (true|false); standbys take over when it stops renewing.")
    var leaderElect = true

    @Option(
        parsing: .next,
        help: ArgumentHelp(
            "Initialise Nodes whose kubelets run with --cloud-provider=external (true|false): remove their "
                + "node.cloudprovider.kubernetes.io/uninitialized taint and set a providerID if they have none. "
                + "Off by default: a providerID can never be changed, and beside another cloud provider (vSphere, "
                + "OpenStack) this one could win the race. Turn on where it is the only cloud provider.")
    )
    var initializeNodes = false

    @Flag(
        help: ArgumentHelp(
            "Let nodes labelled node.kubernetes.io/exclude-from-external-load-balancers hold VIPs: for compact "
                + "clusters where kubeadm or Talos put that label on every node (else no node may hold one).")
    )
    var ignoreExcludeLabel = false

    @Option(help: "Name of the leader-election Lease.")
    var leaderElectLeaseName = "keepalived-cloud-provider"

    @Option(
        help:
            "Seconds a standby waits after the leader's last renewal before taking over (as kube-controller-manager's)."
    )
    var leaderElectLeaseDuration = 15.0

    @Option(help: "Seconds a leader keeps trying to renew before it steps down; less than the lease duration.")
    var leaderElectRenewDeadline = 10.0

    @Option(help: "Seconds between attempts to acquire or renew the Lease; less than the renew deadline.")
    var leaderElectRetryPeriod = 2.0

    @Option(
        help: ArgumentHelp(
            "Concurrent reconciles (1-64). A worker waits for the finalizer PATCH; the status then waits for "
                + "one ConfigMap write that covers all pending Services; the client rate limit "
                + "(--kube-api-qps) usually bounds a burst first.")
    )
    var workers = 16

    @Option(
        name: .customLong("kube-api-qps"), help: "Client-side API rate limit, requests per second (client-go's QPS).")
    var kubeAPIQPS: Double = 50

    @Option(name: .customLong("kube-api-burst"), help: "Client-side API burst.")
    var kubeAPIBurst = 100

    @Option(
        help: ArgumentHelp(
            "Label selector of the nodes that may hold VIPs (e.g. node-role.kubernetes.io/lb=true). Default: every "
                + "node not labelled \(ControllerConfiguration.excludeLabel).")
    )
    var nodeSelector: String?

    @Option(help: "Where /metrics listens: host:port, :port, or 0 to disable.")
    var metricsBindAddress = ":8080"

    @Option(help: "Where /healthz and /readyz listen: host:port, :port, or 0 to disable.")
    var healthBindAddress = ":8081"

    public func validate() throws {
        guard workers >= 1 && workers <= 64 else { throw ValidationError("--workers \(workers): must be 1-64") }
        guard leaderElectRetryPeriod > 0, leaderElectRetryPeriod < leaderElectRenewDeadline,
            leaderElectRenewDeadline < leaderElectLeaseDuration, leaderElectLeaseDuration <= 3600
        else {
            throw ValidationError(
                "--leader-elect-lease-duration \(leaderElectLeaseDuration), --leader-elect-renew-deadline "
                    + "\(leaderElectRenewDeadline), "
                    + "--leader-elect-retry-period \(leaderElectRetryPeriod): need 0 < retry period < renew deadline "
                    + "< lease duration <= 3600 seconds"
            )
        }
        _ = try endpoints()
        _ = try pool.planner()
        if let nodeSelector, nodeSelector.isEmpty || !nodeSelector.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) {
            throw ValidationError(
                "--node-selector \"\(nodeSelector.prefix(64))\": must be a non-empty label selector without spaces, "
                    + "e.g. node-role.kubernetes.io/lb=true"
            )
        }
    }

    public func run() async throws {
        common.bootstrapLogging()
        let registry = Endpoints.bootstrapMetrics()
        var logger = Logger(label: "keepalived-cloud-provider")
        HeapMonitor.configure(logger: logger)
        logger[metadataKey: "cluster"] = "\(pool.clusterName)"
        let environment = ProcessInfo.processInfo.environment

        let controllerConfiguration = try makeConfiguration(environment: environment, logger: logger)
        var clientConfiguration =
            try common.clientConfiguration()
        clientConfiguration.qps = kubeAPIQPS
        clientConfiguration.burst = kubeAPIBurst
        let client = try KubernetesClient(configuration: clientConfiguration, logger: logger)
        logger.info(
            "starting",
            metadata: [
                "pool": "\(controllerConfiguration.pool)", "api": "\(clientConfiguration.server)",
                "configmap": "\(controllerConfiguration.namespace)/\(controllerConfiguration.configMapName)",
            ])

        let elector =
            leaderElect
            ? LeaderElector(
                client: client,
                configuration: .init(
                    leaseName: leaderElectLeaseName, namespace: controllerConfiguration.namespace,
                    identity: Self.identity(),
                    leaseDuration: .milliseconds(Int64(leaderElectLeaseDuration * 1000)),
                    renewDeadline: .milliseconds(Int64(leaderElectRenewDeadline * 1000)),
                    retryPeriod: .milliseconds(Int64(leaderElectRetryPeriod * 1000))),
                logger: logger) : nil
        let controller = ServiceController(
            client: client, configuration: controllerConfiguration, elector: elector, logger: logger)
        let ready: EndpointServer.Probe = {
            // A standby is ready (nothing to serve yet); a leader once it has restored its ledger.
            let leading = await elector?.isLeader ?? true
            return leading ? await controller.isReady : true
        }
        let services: [any ServiceLifecycle.Service] =
            [controller] + (try endpoints()).services(registry: registry, ready: ready, logger: logger)
        try await Endpoints.run(services, closing: client, logger: logger)
    }

    func makeConfiguration(environment: [String: String], logger: Logger) throws -> ControllerConfiguration {
        let parsedPool = try pool.pool(environment: environment, logger: logger)
        var forward: ForwardMethod?
        if let setting = Setting.resolve(
            flag: "--default-forward-method", defaultForwardMethod, env: "KEEPALIVED_DEFAULT_FORWARD_METHOD",
            in: environment)
        {
            do { forward = try ForwardMethod(parsing: setting.value, source: setting.source) } catch {
                throw ValidationError(error.message)
            }
        }
        var configuration = ControllerConfiguration(
            pool: parsedPool,
            namespace: try configMap.resolvedNamespace(environment: environment),
            configMapName: try configMap.resolvedName(environment: environment),
            loadBalancerClass: loadBalancerClass,
            defaultForwardMethod: forward,
            clusterName: pool.clusterName,
            workers: workers,
            serviceNamespace: watchNamespace,
            planner: try pool.planner(),
            nodeSelector: nodeSelector)
        configuration.initializeNodes = initializeNodes
        configuration.honorsExcludeLabel = !ignoreExcludeLabel
        return configuration
    }

    func endpoints() throws -> Endpoints {
        do { return try Endpoints(metrics: metricsBindAddress, health: healthBindAddress) } catch {
            throw ValidationError(error.message)
        }
    }

    /// Pod name (hostname) plus a random suffix, so a restarted pod is a new candidate.
    static func identity() -> String {
        let host = ProcessInfo.processInfo.hostName
        return "\(host)_\(UInt32.random(in: 0...UInt32.max))"
    }
}
