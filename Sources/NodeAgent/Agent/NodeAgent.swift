import Foundation
import IPAM
import Keepalived
import KubeClient
import Logging
import Netlink

/// Makes the controller's VRRP plan real on one node: renders keepalived.conf, supervises
/// keepalived, and keeps the interface free of VIPs this node must not answer for.
public actor NodeAgent {
    let client: KubernetesClient
    let configuration: AgentConfiguration
    let addressing: any InterfaceAddressing
    let logger: Logger
    let supervisor: KeepalivedSupervisor
    let configMaps: Informer<ConfigMap>
    let nodes: Informer<Node>
    let metrics = AgentMetrics()

    var tracker = VRRPStateTracker()
    var plan: VRRPPlan?
    var link: Link?
    var ownAddresses: Set<IPAddress> = []
    var renderedText: String?
    var scrubbedAtStart = false
    var stopping = false
    var restartDelay: Duration = .milliseconds(100)
    var lastPublished: String?
    public internal(set) var isReady = false

    public init(client: KubernetesClient, configuration: AgentConfiguration, addressing: any InterfaceAddressing, logger: Logger = Logger(label: "keepalived-vip-agent")) {
        self.client = client
        self.configuration = configuration
        self.addressing = addressing
        self.logger = logger
        supervisor = KeepalivedSupervisor(
            paths: .init(executable: configuration.keepalivedPath, stateDirectory: configuration.stateDirectory),
            networkNamespace: configuration.networkNamespace, logger: logger)
        configMaps = Informer<ConfigMap>(client: client, namespace: configuration.namespace,
                                         fieldSelector: "metadata.name=\(configuration.configMapName)", logger: logger)
        nodes = Informer<Node>(client: client, logger: logger)
    }

    var fifoPath: String { configuration.stateDirectory + "/notify.fifo" }
    var planPath: String { configuration.stateDirectory + "/plan.json" }

    /// Runs until cancelled; then hands mastership over and leaves no VIP behind.
    public func run() async throws {
        do {
            try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        } catch {
            throw AgentError("StateDirectoryFailed", "cannot create --state-dir \(configuration.stateDirectory): \(error)")
        }
        let fifo = try NotifyFIFO(path: fifoPath)
        await supervisor.setExitHandler { [weak self] status in await self?.keepalivedExited(status: status) }
        await supervisor.stopOrphan()

        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.configMaps.run { _ in await self.changed() } }
            group.addTask { await self.nodes.run { _ in await self.changed() } }
            group.addTask {
                for await message in fifo.messages { await self.notified(message) }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: self.configuration.verifyInterval)
                    await self.verify()
                }
            }
            await withTaskCancellationHandler {
                await group.waitForAll()
            } onCancel: {
                fifo.close()
            }
        }
        // Shutting down is itself not to be cancelled: it must finish handing over.
        await Task { await self.shutDown() }.value
    }

    /// Graceful stop: keepalived's own SIGTERM handling sends priority-0 adverts (a backup takes
    /// over at once); then every VIP of the plan leaves this node.
    func shutDown() async {
        stopping = true
        await supervisor.stop()
        removeVIPs(of: plan, reason: "agent stopping")
        tracker = VRRPStateTracker()
        await publish()
        logger.info("stopped; VIPs handed over")
    }

    // MARK: - Reacting to keepalived

    func notified(_ message: NotifyMessage) async {
        await supervisor.markConfirmed()
        guard tracker.apply(message) else { return }
        metrics.transition(instance: message.instance)
        metrics.record(instance: message.instance, state: message.state)
        logger.info("VRRP state", metadata: ["instance": "\(message.instance)", "state": "\(message.state.rawValue)"])
        await publish()
    }

    func keepalivedExited(status: Int32) async {
        if tracker.keepalivedExited() == .removeAll {
            // A dead keepalived leaves its VIPs behind; another node is taking them over.
            removeVIPs(of: plan, reason: "keepalived exited")
        }
        metrics.restarts.increment()
        await publish()
        guard !stopping else { return }
        let delay = restartDelay
        restartDelay = min(restartDelay * 2, .seconds(10))
        logger.warning("restarting keepalived", metadata: ["in": "\(delay)"])
        Task { [weak self] in
            try? await Task.sleep(for: delay)
            await self?.restartKeepalived()
        }
    }

    func restartKeepalived() async {
        guard !stopping, renderedText != nil, hasInstances(plan) else { return }
        do {
            try await supervisor.start()
        } catch {
            logger.error("cannot restart keepalived", metadata: ["error": "\(error)"])
        }
    }

    func hasInstances(_ plan: VRRPPlan?) -> Bool {
        guard let plan else { return false }
        return plan.instances.contains { plan.rank(of: configuration.nodeName, in: $0) != nil }
    }

    public var heldAddresses: [IPAddress] { tracker.held(in: plan) }

    /// Healthy unless keepalived should run and does not (it is being restarted with backoff).
    public var isHealthy: Bool {
        get async { !isReady || !hasInstances(plan) || stopping ? true : await supervisor.isRunning }
    }
}
