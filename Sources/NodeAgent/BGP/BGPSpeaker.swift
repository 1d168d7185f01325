import BGP
import CoreMetrics
import Foundation
import IPAM
import Keepalived
public import KubeClient
public import LoadBalancerAPI
public import Logging
import ProcessSupervision
public import ServiceLifecycle

/// Announces this node's routes of BGP pools through BIRD: opens a session to each BGPPeer selecting the node,
/// exports the plan's routes this node may serve (ECMP over every such node), and publishes each session's state
/// on the Node and in metrics. The decisions are `BGPSpeakerStateMachine`'s; this actor runs its actions.
public actor BGPSpeaker {
    let client: any KubernetesAPI
    let configuration: AgentConfiguration
    let logger: Logger
    let daemon: BIRDDaemon
    let configMaps: Informer<ConfigMap>
    let ownNode: Informer<Node>
    let peers: Informer<BGPPeer>
    /// How often BIRD is asked for its sessions' state (BIRD has no event stream for them).
    let statusInterval: Duration

    var machine = BGPSpeakerStateMachine()
    /// The passes of `changed()`, which never overlap (a resumed one would apply the older plan it read).
    var passes = SerialPasses()
    /// The BGPPeer names in the order the last configuration lists them (`BIRDConfig.protocolName`).
    var rendered: [(name: String, settings: BGPPeerSpec)] = []
    /// Selected peers that cannot be used, with why.
    var invalid: [String: String] = [:]
    var routeCount = 0
    var lastPublished: String?
    var lastPlanProblem: String?
    var lastPlan: VRRPPlan?
    /// What each referenced Secret gave (a password, or why not), read again on a BGPPeer change or after a minute.
    var passwords = SecretCache<Result<BGPPassword, BGPError>>(lifetime: .seconds(60))

    enum Job: Sendable {
        case watch(ChildProcess, run: Int)
        case restart(after: Duration)
    }
    let jobs: AsyncStream<Job>
    let jobQueue: AsyncStream<Job>.Continuation

    /// What the status refreshes, restart delays and the passwords' lifetime are measured on.
    let clock: any Clock<Duration>
    let elapsed: @Sendable () -> Duration

    public init(
        client: any KubernetesAPI, configuration: AgentConfiguration, statusInterval: Duration = .seconds(1),
        clock: some Clock<Duration> = ContinuousClock(), logger: Logger = Logger(label: "keepalived-vip-agent")
    ) {
        self.clock = clock
        elapsed = stopwatch(on: clock)
        self.client = client
        self.configuration = configuration
        self.logger = logger
        self.statusInterval = statusInterval
        daemon = BIRDDaemon(
            paths: .init(
                bird: configuration.birdPath, birdc: configuration.birdcPath,
                directory: configuration.stateDirectory + "/bird"),
            networkNamespace: configuration.networkNamespace, clock: clock)
        configMaps = Informer<ConfigMap>(
            client: client, namespace: configuration.namespace,
            fieldSelector: "metadata.name=\(configuration.configMapName)", logger: logger, clock: clock)
        ownNode = Informer<Node>(
            client: client, fieldSelector: "metadata.name=\(configuration.nodeName)", logger: logger, clock: clock)
        peers = Informer<BGPPeer>(client: client, logger: logger, maximumBackoff: .seconds(60), clock: clock)
        (jobs, jobQueue) = AsyncStream.makeStream()
    }

    public func run() async throws {
        try? FileManager.default.createDirectory(atPath: daemon.paths.directory, withIntermediateDirectories: true)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.configMaps.run { _ in await self.changed() } }
            group.addTask { await self.ownNode.run { _ in await self.changed() } }
            group.addTask {
                await self.peers.run { _ in
                    await self.forgetPasswords()
                    await self.changed()
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await self.clock.sleep(for: self.statusInterval)
                    await self.refreshStatus()
                    // A rotated password reaches BIRD within the cache's lifetime even when nothing else changes.
                    if await self.passwordsExpired() { await self.changed() }
                }
            }
            group.addTask {
                await withDiscardingTaskGroup { jobs in
                    for await job in self.jobs { jobs.addTask { await self.perform(job) } }
                }
            }
            try? await gracefulShutdown()
            jobQueue.finish()
            group.cancelAll()
        }
        // Sessions closed before the agent exits: the routers withdraw this node's routes at once.
        await handle(.stopRequested)
    }

    private func perform(_ job: Job) async {
        switch job {
        case .watch(let child, let run):
            guard let status = await child.exitStatusUnlessCancelled() else { return }
            await handle(.exited(run: run, status: status))
        case .restart(let delay):
            try? await clock.sleep(for: delay)
            guard !Task.isCancelled else { return }
            await handle(.restartTimerFired)
        }
    }

    func handle(_ event: BGPSpeakerStateMachine.Event) async {
        if case .exited(_, let status) = event, machine.running {
            logger.warning(
                "bird exited; restarting", metadata: ["status": "\(status)", "log": "\(daemon.paths.log)"])
            Counter(label: "keepalived_lb_agent_bird_restarts_total").increment()
        }
        let actions = machine.handle(event)
        for action in actions {
            switch action {
            case .write(let text):
                do {
                    try text.write(toFile: daemon.paths.config, atomically: true, encoding: .utf8)
                } catch {
                    logger.error("cannot write bird.conf", metadata: ["error": "\(error)"])
                }
            case .start(let run):
                if let orphan = await daemon.stopOrphan() {
                    logger.warning("stopped a bird left by a previous agent", metadata: ["pid": "\(orphan)"])
                }
                do {
                    let child = try await daemon.start()
                    jobQueue.yield(.watch(child, run: run))
                    logger.info("bird started", metadata: ["peers": "\(rendered.count)", "routes": "\(routeCount)"])
                } catch {
                    logger.error("cannot start bird", metadata: ["error": "\(error)"])
                    await handle(.exited(run: run, status: -1))
                }
            case .reload:
                if let problem = await daemon.configure() {
                    logger.error("bird refused its new configuration", metadata: ["answer": "\(problem)"])
                } else {
                    Counter(label: "keepalived_lb_agent_bird_reloads_total").increment()
                }
            case .stop:
                await daemon.stop()
                logger.info("bird stopped; sessions closed")
            case .scheduleRestart(let delay):
                jobQueue.yield(.restart(after: delay))
            }
        }
        // Only when BIRD was started, reloaded or stopped: every informer event ends here, and the status loop
        // publishes anything else within `statusInterval` (each refresh runs birdc twice).
        if !actions.isEmpty { await refreshStatus() }
    }

    /// Recomputes bird.conf after a change to the plan, this Node or a BGPPeer, one pass at a time.
    func changed() async {
        guard passes.begin() else { return }
        repeat { await applyCurrentState() } while passes.next()
    }

    private func applyCurrentState() async {
        guard !machine.stopping, await configMaps.hasSynced, await ownNode.hasSynced, await peers.hasSynced else {
            return
        }
        guard let node = await ownNode.get(ObjectKey(namespace: nil, name: configuration.nodeName)) else { return }
        let plan = await currentPlan()
        var selected: [(String, BGPPeerSpec)] = []
        var problems: [String: String] = [:]
        for peer in await peers.list().sorted(by: { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }) {
            guard let name = peer.metadata.name else { continue }
            if let selector = peer.spec.nodeSelector {
                guard case .success = selector.requirements() else {
                    problems[name] = "spec.nodeSelector is not a valid label selector"
                    continue
                }
                guard selector.matches(node.metadata.labels) else { continue }
            }
            do {
                selected.append((name, try peer.settings(password: try await password(of: peer))))
            } catch {
                problems[name] = String(describing: error)
            }
        }
        for (name, problem) in problems where invalid[name] != problem {
            logger.warning("BGPPeer not used", metadata: ["peer": "\(name.prefix(253))", "error": "\(problem)"])
        }
        invalid = problems
        rendered = selected.map { (name: $0.0, settings: $0.1) }
        let routes = plan?.routes(for: configuration.nodeName) ?? []
        routeCount = routes.count
        Gauge(label: "keepalived_lb_agent_bgp_routes").record(routes.count)
        guard !rendered.isEmpty else {
            await handle(.desired(nil))
            return
        }
        await handle(
            .desired(
                BIRDConfig.render(
                    routerID: Self.routerID(of: node, name: configuration.nodeName),
                    peers: rendered.map(\.settings), routes: routes)))
    }

    /// The plan whose routes to announce. Without a usable plan (the ConfigMap deleted, emptied or garbled) the last
    /// one stays, as it does for VRRP: the controller puts the ConfigMap right within a second, and withdrawing
    /// every route meanwhile would take down every BGP VIP whose Service did not change.
    private func currentPlan() async -> VRRPPlan? {
        let key = ObjectKey(namespace: configuration.namespace, name: configuration.configMapName)
        switch NodeAgent.plan(in: await configMaps.get(key), key: key) {
        case .success(let plan):
            lastPlanProblem = nil
            lastPlan = plan
        case .failure(let reason):
            if lastPlanProblem != reason.message {
                logger.warning(
                    "no usable plan: announcing the last one's routes",
                    metadata: ["error": "\(reason.message)", "routes": "\(routeCount)"])
                lastPlanProblem = reason.message
            }
        }
        return lastPlan
    }

    /// The Secret's value (the Secret lives in the agents' namespace: a BGPPeer cannot point at another's).
    private func password(of peer: BGPPeer) async throws(BGPError) -> BGPPassword? {
        guard let reference = peer.spec.passwordSecret else { return nil }
        let key = SecretCache<Result<BGPPassword, BGPError>>.Key(name: reference.name, key: reference.key)
        if let cached = passwords.value(key, at: elapsed()) { return try cached.get() }
        let source = "Secret \(configuration.namespace)/\(reference.name.prefix(253)) key \(reference.key.prefix(253))"
        let result: Result<BGPPassword, BGPError>
        do {
            let secret = try await client.get(Secret.self, namespace: configuration.namespace, name: reference.name)
            if let text = secret.text(reference.key) {
                result = Result { () throws(BGPError) in try BGPPassword(text, source: source) }
            } else {
                result = .failure(BGPError(.invalidPassword, "\(source) has no such key (or it is not UTF-8 text)"))
            }
        } catch {
            result = .failure(
                BGPError(
                    .invalidPassword,
                    "cannot read \(source): \(error.message) "
                        + "(the agent reads it with the bgp-password component's Role)"))
        }
        passwords.store(result, for: key, at: elapsed())
        return try result.get()
    }

    private func forgetPasswords() { passwords.removeAll() }
    private func passwordsExpired() -> Bool { passwords.hasExpired(at: elapsed()) }

    /// BIRD's router ID: the node's IPv4 InternalIP, else a stable number from its name (IPv6-only nodes).
    static func routerID(of node: Node, name: String) -> IPAddress {
        if let address = node.internalAddresses.first(where: { $0.family == .ipv4 }) { return address }
        // FNV-1a, 32 bits: stable across restarts and releases.
        let hash = name.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 }
        return .v4(IPv4Address(hash | 1))
    }

    /// Reads BIRD's sessions; publishes them on the Node and in metrics when they change.
    func refreshStatus() async {
        var state = BGPSessionState(peers: [:], routes: machine.running ? routeCount : 0)
        var protocols: [String: BIRDStatus.Session] = [:]
        var bfd: [IPAddress: String] = [:]
        if machine.running, let output = await daemon.query(["show", "protocols"]) {
            protocols = BIRDStatus.protocols(output)
            bfd = BIRDStatus.bfdSessions(await daemon.query(["show", "bfd", "sessions"]) ?? "")
            _ = machine.handle(.answered)
        }
        for (index, peer) in rendered.enumerated() {
            let session = protocols[BIRDConfig.protocolName(index)]
            let established = session?.isEstablished ?? false
            let name =
                session.map { $0.info.split(separator: " ").first.map(String.init) ?? $0.state }
                ?? BGPSessionState.Peer.down
            state.peers[peer.name] = .init(
                session: established ? BGPSessionState.Peer.established : name,
                bfd: peer.settings.bfd == nil ? nil : (bfd[peer.settings.peerAddress] ?? BGPSessionState.Peer.down),
                message: established ? nil : session.flatMap { Self.reason(in: $0.info) })
            Gauge(label: "keepalived_lb_agent_bgp_session_up", dimensions: [("peer", peer.name)])
                .record(established ? 1 : 0)
            if peer.settings.bfd != nil {
                Gauge(label: "keepalived_lb_agent_bfd_session_up", dimensions: [("peer", peer.name)])
                    .record(bfd[peer.settings.peerAddress] == "Up" ? 1 : 0)
            }
        }
        for (name, problem) in invalid {
            state.peers[name] = .init(
                session: BGPSessionState.Peer.invalid, bfd: nil, message: String(problem.prefix(300)))
        }
        await publish(state)
    }

    private func publish(_ state: BGPSessionState) async {
        let document = state.json()
        guard document != lastPublished else { return }
        do {
            _ = try await client.patch(
                Node.self, name: configuration.nodeName,
                .merge(["metadata": ["annotations": [BGPSessionState.annotation: .string(document)]]]))
            lastPublished = document
        } catch {
            logger.warning("cannot publish the node's BGP state", metadata: ["error": "\(error)"])
        }
    }

    /// BIRD's detail after the state name ("Idle          BGP Error: Bad peer AS"): the reason, if any.
    static func reason(in info: String) -> String? {
        let words = info.split(separator: " ", maxSplits: 1)
        let rest = words.dropFirst().first?.trimmingCharacters(in: .whitespaces) ?? ""
        return rest.isEmpty ? nil : String(rest.prefix(200))
    }

    /// What the last publication said (tests).
    public var published: BGPSessionState? { lastPublished.flatMap { BGPSessionState(annotation: $0) } }
}

extension BGPSpeaker: ServiceLifecycle.Service {}
