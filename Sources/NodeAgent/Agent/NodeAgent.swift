import CoreMetrics
import Foundation
public import IPAM
import Keepalived
public import KubeClient
public import Logging
import NodeNetwork
import ProcessSupervision
import ServiceLifecycle

/// Makes the controller's VRRP plan real on one node: renders keepalived.conf, supervises
/// keepalived, and keeps the interface free of VIPs this node must not answer for. The decisions
/// are `AgentStateMachine`'s; this actor only runs its actions.
public actor NodeAgent {
    let client: any KubernetesAPI
    let configuration: AgentConfiguration
    let addressing: any InterfaceAddressing
    let logger: Logger
    let supervisor: any KeepalivedProcess
    let configMaps: Informer<ConfigMap>
    let nodes: Informer<Node>
    let metrics = AgentMetrics()
    /// conntrackd and conntrack when connections are kept across moves (`--keep-connections`).
    let connections: ConnectionSync?

    var machine: AgentStateMachine
    var link: Link?
    var ownAddresses: Set<IPAddress> = []
    var scrubbedAtStart = false
    var lastPublished: String?
    /// The unicast peers of the last rendering (where adverts go).
    var peers: [IPAddress] = []
    /// The priority-0 adverts and neighbour announcements the agent sends itself.
    let packets: any PacketSending
    /// Why the last plan was not used, so a repeat is logged once.
    var lastUnavailableReason: String?
    /// The node's interfaces as last listed (published; VIPs of pools naming another are left out).
    var interfaces: [String]?
    /// A plan has been applied (keepalived configured, or stopped for a node with no instance).
    var hasApplied = false
    /// The passes of `changed()`, which never overlap.
    var passes = SerialPasses()
    /// When the graceful stop began (on `clock`): the release grace of a stopping agent runs from there.
    var stopStartedAt: Duration?

    /// Ready once the plan is applied and keepalived has reported a state for every instance of this node: a
    /// rolling update then moves to the next node only after this one can take part in elections again.
    public var isReady: Bool { hasApplied && machine.everyInstanceReported }

    /// Timers and reload watches, run by `run()`'s task group (no unstructured tasks).
    enum Job: Sendable {
        case restart(after: Duration)
        case handover(after: Duration)
        /// Wait for this run of keepalived to end.
        case watch(KeepalivedSupervisor.Run)
        /// Send SIGHUP once keepalived has started, then wait for its log to confirm the reload.
        case reload(id: Int, logOffset: UInt64)
        /// `releaseGrace` after giving these VIPs up: delete this node's entries of their flows.
        case release([IPAddress])
        /// Wait for this run of conntrackd to end.
        case watchSync(ChildProcess)
    }
    let jobs: AsyncStream<Job>
    let jobQueue: AsyncStream<Job>.Continuation
    /// What the timers, the verify loop and the reload-confirmation wait sleep on (tests may move a manual one).
    let clock: any Clock<Duration>
    /// Time since this agent was made, on `clock`.
    let elapsed: @Sendable () -> Duration

    public init(
        client: any KubernetesAPI, configuration: AgentConfiguration, addressing: any InterfaceAddressing,
        keepalived: (any KeepalivedProcess)? = nil, packets: (any PacketSending)? = nil,
        clock: some Clock<Duration> = ContinuousClock(), logger: Logger = Logger(label: "keepalived-vip-agent")
    ) {
        self.clock = clock
        elapsed = stopwatch(on: clock)
        self.client = client
        self.configuration = configuration
        self.addressing = addressing
        self.logger = logger
        machine = AgentStateMachine(
            nodeName: configuration.nodeName, filtersVIPs: configuration.nftPath != nil,
            handoverMasqueradeBit: configuration.handover?.masqueradeBit)
        connections = configuration.handover.map {
            ConnectionSync(
                paths: .init(
                    conntrackd: $0.conntrackdPath, conntrack: $0.conntrackPath,
                    directory: configuration.stateDirectory),
                networkNamespace: configuration.networkNamespace, clock: clock)
        }
        supervisor =
            keepalived
            ?? KeepalivedSupervisor(
                paths: .init(executable: configuration.keepalivedPath, stateDirectory: configuration.stateDirectory),
                networkNamespace: configuration.networkNamespace, clock: clock, logger: logger)
        configMaps = Informer<ConfigMap>(
            client: client, namespace: configuration.namespace,
            fieldSelector: "metadata.name=\(configuration.configMapName)", logger: logger, clock: clock)
        nodes = Informer<Node>(client: client, logger: logger, clock: clock)
        self.packets = packets ?? NodePackets(networkNamespace: configuration.networkNamespace)
        (jobs, jobQueue) = AsyncStream.makeStream()
    }

    var fifoPath: String { NodeRenderInput.notifyFIFO(in: configuration.stateDirectory) }
    var planPath: String { configuration.stateDirectory + "/plan.json" }
    var plan: VRRPPlan? { machine.plan }

    /// Runs until a graceful shutdown (or cancellation); then hands mastership over and leaves no VIP behind.
    public func run() async throws {
        do {
            try FileManager.default.createDirectory(
                atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        } catch {
            throw AgentError(
                .stateDirectoryFailed, "cannot create --state-dir \(configuration.stateDirectory): \(error)")
        }
        let fifo = try NotifyFIFO(path: fifoPath)
        await supervisor.stopOrphan()
        await connections?.stopOrphan()

        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.configMaps.run { _ in await self.changed() } }
            group.addTask { await self.nodes.run { _ in await self.changed() } }
            group.addTask {
                for await message in fifo.messages { await self.notified(message) }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await self.clock.sleep(for: self.configuration.verifyInterval)
                    await self.verify()
                }
            }
            group.addTask { await self.runJobs() }
            // Until a graceful shutdown or cancellation; then every loop ends.
            try? await gracefulShutdown()
            fifo.close()
            jobQueue.finish()
            group.cancelAll()
        }
        if Task.isCancelled {
            // Cancelled outright, not shut down gracefully: a cancelled task's requests fail at once, and the
            // hand-over must finish, so it runs in a task of its own, awaited here (Swift 6.3 has no shield).
            await Task { await self.shutDown() }.value
        } else {
            await shutDown()
        }
    }

    /// Graceful stop: keepalived's own SIGTERM handling sends priority-0 adverts (a backup takes
    /// over at once); then every VIP of the plan leaves this node.
    func shutDown() async {
        stopStartedAt = elapsed()
        await handle(.stopRequested)
        await connections?.stop()
        logger.info("stopped; VIPs handed over")
    }

    /// Each job runs in a child task of its own, so a slow reload watch never delays a restart.
    private func runJobs() async {
        await withDiscardingTaskGroup { group in
            for await job in jobs {
                group.addTask { await self.perform(job) }
            }
        }
    }

    private func perform(_ job: Job) async {
        switch job {
        case .restart(let delay):
            try? await clock.sleep(for: delay)
            guard !Task.isCancelled else { return }
            await handle(.restartTimerFired)
        case .handover(let delay):
            try? await clock.sleep(for: delay)
            guard !Task.isCancelled else { return }
            await handle(.handoverTimerFired)
        case .watch(let run):
            guard let status = await supervisor.watch(run) else { return }
            await handle(.keepalivedExited(status: status))
        case .reload(let id, let offset):
            var offset = offset
            for attempt in 1...Self.reloadAttempts {
                guard await sendReload() else { return }
                if await reloadConfirmed(after: offset) {
                    await handle(.reloadConfirmed(id))
                    return
                }
                guard !Task.isCancelled else { return }
                guard attempt < Self.reloadAttempts else { break }
                // A SIGHUP keepalived took but never acted on leaves it on the old configuration until the next
                // plan change: a VIP added meanwhile would be held by no node. Asking again costs one reload.
                logger.warning(
                    "keepalived did not confirm its reload in time; asking again",
                    metadata: ["attempt": "\(attempt)", "log": "\(supervisor.paths.log)"])
                offset = supervisor.logOffset()
            }
            logger.warning(
                "keepalived did not confirm its reload in time; removing the addresses that left the plan anyway",
                metadata: [
                    "timeout": "\(AgentStateMachine.reloadConfirmationTimeout)", "attempts": "\(Self.reloadAttempts)",
                    "log": "\(supervisor.paths.log)",
                ])
            await handle(.reloadTimedOut(id))
        case .release(let addresses):
            try? await clock.sleep(for: AgentStateMachine.releaseGrace)
            await releaseConnections(addresses)
        case .watchSync(let child):
            guard let status = await child.exitStatusUnlessCancelled(), !machine.stopping,
                await connections?.isCurrent(child) == true
            else { return }
            logger.warning(
                "conntrackd exited; restarting it (connections are not kept across moves meanwhile)",
                metadata: ["status": "\(status)", "log": "\(configuration.stateDirectory)/conntrackd.log"])
            metrics.syncRestarts.increment()
            try? await clock.sleep(for: .seconds(1))
            await syncConnections()
        }
    }

    /// SIGHUPs a reload asks for before its removals go ahead anyway.
    static let reloadAttempts = 3

    /// SIGHUP once keepalived has started (one during start-up would kill it); false when it is not running.
    private func sendReload() async -> Bool {
        while !Task.isCancelled {
            switch await supervisor.reload() {
            case .sent: return true
            case .notRunning: return false  // it exited; its exit removes every VIP anyway
            case .notYetStarted: try? await clock.sleep(for: .milliseconds(20))
            }
        }
        return false
    }

    /// Whether keepalived's log says it re-read its configuration (past `offset`) within the confirmation timeout.
    private func reloadConfirmed(after offset: UInt64) async -> Bool {
        let deadline = elapsed() + AgentStateMachine.reloadConfirmationTimeout
        while elapsed() < deadline, !Task.isCancelled {
            if supervisor.reloadCompleted(after: offset) { return true }
            try? await clock.sleep(for: .milliseconds(10))
        }
        return false
    }

    // MARK: - Running the state machine's actions

    func handle(_ event: AgentStateMachine.Event) async {
        for action in machine.handle(event) {
            await run(action)
        }
    }

    private func run(_ action: AgentStateMachine.Action) async {
        switch action {
        case .writeConfig(let text, let plan):
            do {
                try write(text, to: supervisor.paths.config)
                try write(plan.json(), to: planPath)
            } catch {
                logger.error("cannot write keepalived's configuration", metadata: ["error": "\(error)"])
            }
        case .startKeepalived:
            do {
                if let run = try await supervisor.start() { jobQueue.yield(.watch(run)) }
            } catch {
                logger.error("cannot start keepalived", metadata: ["error": "\(error)"])
                await handle(.keepalivedStartFailed(message: error.message))
            }
        case .reloadKeepalived(let id):
            metrics.reloads.increment()
            jobQueue.yield(.reload(id: id, logOffset: supervisor.logOffset()))
        case .stopKeepalived:
            await supervisor.stop()
        case .removeVIPs(let addresses, let reason):
            removeVIPs(addresses, reason: reason)
        case .addVIPs(let addresses):
            addVIPs(addresses)
        case .removeTokens(let reason):
            removeTokens(machine.plan?.tokens ?? [], reason: reason)
        case .announceRelease(let instances):
            announceRelease(instances)
        case .keepPreviousPlan(let reason):
            metrics.planUnavailable.increment()
            guard reason != lastUnavailableReason else { return }
            lastUnavailableReason = reason
            if let plan = machine.plan {
                logger.error(
                    "no usable VRRP plan; keeping the previous one (every VIP stays where it is)",
                    metadata: ["reason": "\(reason)", "previousInstances": "\(plan.instances.count)"])
            } else {
                logger.warning(
                    "no usable VRRP plan yet; waiting for keepalived-cloud-provider to write one",
                    metadata: ["reason": "\(reason)"])
            }
        case .scheduleRestart(let delay):
            metrics.restarts.increment()
            logger.warning("restarting keepalived", metadata: ["in": "\(delay)"])
            jobQueue.yield(.restart(after: delay))
        case .scheduleHandover(let delay):
            logger.info("this node left the plan; handing its VIPs over", metadata: ["in": "\(delay)"])
            jobQueue.yield(.handover(after: delay))
        case .recordTransition(let message):
            metrics.transition(instance: message.instance)
            metrics.record(instance: message.instance, state: message.state)
            logger.info(
                "VRRP state", metadata: ["instance": "\(message.instance)", "state": "\(message.state.rawValue)"])
        case .instancesStopped(let names):
            for name in names { metrics.record(instance: name, state: nil) }
        case .instancesRemoved(let names):
            for name in names { metrics.forget(instance: name) }
        case .publish:
            await publish()
        case .applyFirewall(let script):
            await installFirewall(script, what: "apply")
        case .removeFirewall:
            await installFirewall(VIPFirewall.removal, what: "remove")
        case .rerender:
            await changed()
        case .adoptConnections(let addresses):
            await adoptConnections(addresses)
        case .releaseConnections(let addresses):
            guard machine.stopping else {
                jobQueue.yield(.release(addresses))
                return
            }
            // Stopping: the jobs have ended, and the filter goes only once this node's entries have. The grace runs
            // from the stop (keepalived's priority-0 advert), not from keepalived's exit a second later.
            let waited = elapsed() - (stopStartedAt ?? elapsed())
            if waited < AgentStateMachine.releaseGrace {
                try? await clock.sleep(for: AgentStateMachine.releaseGrace - waited)
            }
            await releaseConnections(addresses)
        }
    }

    // MARK: - Reacting to keepalived

    func notified(_ message: NotifyMessage) async {
        await supervisor.markConfirmed()
        await handle(.stateReported(message))
    }

    public var heldAddresses: [IPAddress] { machine.heldAddresses }

    /// Healthy unless keepalived should run and does not (it is being restarted with backoff).
    public var isHealthy: Bool {
        get async {
            !hasApplied || !machine.hasInstances(machine.plan) || machine.stopping ? true : await supervisor.isRunning
        }
    }
}
