public import ArgumentParser
import CommandLineSupport
import Foundation
import Keepalived
import KubeClient
import Logging
import NodeAgent
import NodeNetwork
import Observability
import ServiceLifecycle

/// `keepalived-vip-agent`: runs on every node that may hold VIPs (DaemonSet, host network).
public struct AgentCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "keepalived-vip-agent",
        abstract: "Turn the controller's VRRP plan into keepalived on this node and keep its VIPs honest.",
        discussion: "Reads the VRRP plan from the ConfigMap that keepalived-cloud-provider writes (data key "
            + "\(VRRPPlan.dataKey)), renders this node's keepalived.conf into --state-dir, supervises keepalived, and "
            + "removes VIPs through netlink whenever keepalived dies or the agent stops. Publishes its view in the "
            + "Node "
            + "annotation \(AgentConfiguration.stateAnnotation).",
        version: BuildInfo.version
    )

    @OptionGroup var common: CommonOptions

    @Option(help: "This node's name (the Node object). Env: NODE_NAME.")
    var nodeName: String?

    @Option(help: "Interface for VRRP and the VIPs. Default: the one holding the node's InternalIP.")
    var interface: String?

    @Option(help: "Namespace of the VIP ConfigMap. Env: KEEPALIVED_NAMESPACE.")
    var namespace: String?

    @Option(help: "Name of the VIP ConfigMap. Env: KEEPALIVED_CONFIG_MAP.")
    var configmap: String?

    @Option(help: "Path of the keepalived binary.")
    var keepalived = "/usr/sbin/keepalived"

    @Flag(
        help: "Send VRRP adverts by unicast to the other eligible nodes' InternalIPs (for networks without multicast).")
    var unicast = false

    @Option(help: "VRRP advert interval in milliseconds (multiple of 10). Failover takes about 3 intervals.")
    var advertIntervalMs = 200

    @Option(help: "Where keepalived.conf, pid files and the notify FIFO live.")
    var stateDir = "/run/keepalived-vip-agent"

    @Option(
        help: ArgumentHelp(
            "Manage the node that lives in this named network namespace (/run/netns) instead of the host's own; for "
                + "sandboxes and tests.")
    )
    var netns: String?

    @Flag(
        inversion: .prefixedNo,
        help: ArgumentHelp(
            "Let through to each VIP only its Services' protocol/port pairs and ICMP echo (nftables table inet "
                + "keepalived_lb, hooked before kube-proxy), so no VIP reaches the node's own listeners or NodePorts."))
    var vipFirewall = true

    @Option(help: "Path of the nft binary (nftables) that installs the VIP firewall.")
    var nft = "/usr/sbin/nft"

    @Flag(
        help: ArgumentHelp(
            "Keep Cluster Services' connections open when their VIP moves to another node: conntrackd copies each "
                + "node's connections to the others, and the new holder takes them over (RELIABILITY.md). Needs the "
                + "VIP firewall, conntrackd and conntrack, and kube-proxy in iptables mode."))
    var keepConnections = false

    @Option(help: "Path of conntrackd, run with --keep-connections.")
    var conntrackd = "/usr/sbin/conntrackd"

    @Option(help: "Path of conntrack, run with --keep-connections.")
    var conntrack = "/usr/sbin/conntrack"

    @Option(help: "kube-proxy's --iptables-masquerade-bit (0-31): which flows --keep-connections translates.")
    var masqueradeBit = 14

    @Option(help: "Path of BIRD 2, run while a BGPPeer selects this node (pools with announcement mode BGP).")
    var bird = "/usr/sbin/bird"

    @Option(help: "Path of birdc, BIRD's control client (reloads and session state).")
    var birdc = "/usr/sbin/birdc"

    @Option(help: "Where /metrics listens: host:port, :port, or 0 to disable.")
    var metricsBindAddress = ":9477"

    /// Loopback by default: on the host network anything else opens the probes to the node's whole network.
    @Option(help: "Where /healthz and /readyz listen: host:port, :port, or 0 to disable.")
    var healthBindAddress = "127.0.0.1:9478"

    public func validate() throws {
        _ = try resolvedNodeName()
        if let interface {
            do { try InterfaceName.validate(interface) } catch {
                throw ValidationError("--interface: \(error.message)")
            }
        }
        do {
            _ = try NodeSettings(
                nodeName: "validate", interface: "eth0", sourceAddresses: [], unicastPeers: [],
                advertIntervalMilliseconds: advertIntervalMs, notifyFIFO: NodeRenderInput.notifyFIFO(in: stateDir))
        } catch {
            throw ValidationError(
                error.code == .invalidPath ? "--state-dir: \(error.message)" : "--advert-interval-ms: \(error.message)"
            )
        }
        if let netns, netns.isEmpty || netns.contains("/") {
            throw ValidationError("--netns \"\(netns)\": give a name under /run/netns, not a path")
        }
        if vipFirewall, !FileManager.default.isExecutableFile(atPath: nft) {
            throw ValidationError(
                "--nft \(nft): not an executable file (install nftables, point the flag at nft, or pass "
                    + "--no-vip-firewall to leave VIPs unfiltered)")
        }
        if keepConnections {
            guard vipFirewall else {
                throw ValidationError(
                    "--keep-connections needs the VIP firewall (its rules live in the same table): drop "
                        + "--no-vip-firewall or --keep-connections")
            }
            for (flag, path) in [("--conntrackd", conntrackd), ("--conntrack", conntrack)]
            where !FileManager.default.isExecutableFile(atPath: path) {
                throw ValidationError(
                    "\(flag) \(path): not an executable file (install conntrackd and conntrack, point the flag at "
                        + "it, or drop --keep-connections)")
            }
        }
        guard (0...31).contains(masqueradeBit) else {
            throw ValidationError("--masquerade-bit \(masqueradeBit): give kube-proxy's bit, 0-31 (its default is 14)")
        }
        guard FileManager.default.isExecutableFile(atPath: keepalived) else {
            throw ValidationError(
                "--keepalived \(keepalived): not an executable file (install keepalived or point the flag at it)")
        }
        _ = try endpoints()
    }

    func resolvedNodeName() throws -> String {
        guard
            let setting = Setting.resolve(
                flag: "--node-name", nodeName, env: "NODE_NAME", in: ProcessInfo.processInfo.environment),
            !setting.value.isEmpty
        else {
            throw ValidationError(
                "--node-name is required (or env NODE_NAME, e.g. from the downward API spec.nodeName)")
        }
        do { try NodeName.validate(setting.value) } catch {
            throw ValidationError("\(setting.source): \(error.message)")
        }
        return setting.value
    }

    func endpoints() throws -> Endpoints {
        do { return try Endpoints(metrics: metricsBindAddress, health: healthBindAddress) } catch {
            throw ValidationError(error.message)
        }
    }

    public func run() async throws {
        common.bootstrapLogging()
        let registry = Endpoints.bootstrapMetrics()
        let nodeName = try resolvedNodeName()
        var logger = Logger(label: "keepalived-vip-agent")
        HeapMonitor.configure(logger: logger)
        logger[metadataKey: "node"] = "\(nodeName)"
        let environment = ProcessInfo.processInfo.environment
        let configMapNamespace =
            try Setting.resolve(flag: "--namespace", namespace, env: "KEEPALIVED_NAMESPACE", in: environment)?
            .validatedName(subdomain: false) ?? "kube-system"
        let configMapName =
            try Setting.resolve(flag: "--configmap", configmap, env: "KEEPALIVED_CONFIG_MAP", in: environment)?
            .validatedName(subdomain: true) ?? "vip-configmap"

        let netlink = try AddressManager(networkNamespace: netns)
        if let interface { _ = try netlink.link(named: interface) }  // fail fast, with the flag named
        let clientConfiguration =
            try common.clientConfiguration()
        let client = try KubernetesClient(configuration: clientConfiguration, logger: logger)
        let configuration = AgentConfiguration(
            nodeName: nodeName, interface: interface,
            namespace: configMapNamespace, configMapName: configMapName,
            keepalivedPath: keepalived, stateDirectory: stateDir, unicast: unicast,
            advertIntervalMilliseconds: advertIntervalMs, networkNamespace: netns, nftPath: vipFirewall ? nft : nil,
            birdPath: bird, birdcPath: birdc,
            handover: keepConnections
                ? .init(conntrackdPath: conntrackd, conntrackPath: conntrack, masqueradeBit: masqueradeBit) : nil)
        let agent = NodeAgent(client: client, configuration: configuration, addressing: netlink, logger: logger)
        // BGP pools: dormant (no BIRD) until a BGPPeer selects this node.
        let speaker = BGPSpeaker(client: client, configuration: configuration, logger: logger)
        logger.info(
            "starting",
            metadata: [
                "configmap": "\(configuration.namespace)/\(configuration.configMapName)", "unicast": "\(unicast)",
                "vipFirewall": "\(vipFirewall)",
            ])

        let services: [any ServiceLifecycle.Service] =
            [agent, speaker]
            + (try endpoints()).services(
                registry: registry, health: { await agent.isHealthy }, ready: { await agent.isReady }, logger: logger)
        try await Endpoints.run(services, closing: client, logger: logger)
    }
}
