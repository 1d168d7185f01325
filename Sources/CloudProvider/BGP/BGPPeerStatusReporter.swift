import KubeClient
import LoadBalancerAPI
import Logging

/// Writes each BGPPeer's status (every node's session and BFD state, an `Established` condition) from the Node
/// annotations the agents publish, and posts Events on the BGPPeer when a node's session is lost, failing or back.
/// Run by the leader beside the Service reconciler; the decisions are `BGPPeerStatusMachine`'s.
actor BGPPeerStatusReporter {
    let client: any KubernetesAPI
    let events: EventRecorder
    let clock: any Clock<Duration>
    let logger: Logger
    let nodes: Informer<Node>
    let peers: Informer<BGPPeer>
    /// A burst of node updates (every agent publishes within a second of a router event) writes once.
    let coalescing: Duration
    var machine = BGPPeerStatusMachine()
    /// What this reporter last wrote, by uid: the write decision never rests on how the server echoes JSON back
    /// (an echo that differs by representation would otherwise be rewritten on every pass, forever).
    var lastWritten: [String: JSONObject] = [:]

    init(
        client: any KubernetesAPI, events: EventRecorder, clock: any Clock<Duration>, logger: Logger,
        coalescing: Duration = .milliseconds(300)
    ) {
        self.client = client
        self.events = events
        self.clock = clock
        self.logger = logger
        self.coalescing = coalescing
        // Only the annotation is kept: a Node's status is most of its size, and thousands of nodes are listed.
        nodes = Informer<Node>(
            client: client, logger: logger,
            transform: { node in
                var kept = node.keepingMetadataOnly()
                if let state = node.metadata.annotations[BGPSessionState.annotation] {
                    kept.metadata.annotations = [BGPSessionState.annotation: state]
                }
                return kept
            }, clock: clock)
        peers = Informer<BGPPeer>(client: client, logger: logger, maximumBackoff: .seconds(60), clock: clock)
    }

    /// Whether the BGPPeer resource is served (`deploy/base/bgppeers.yaml`); without it there is nothing to report.
    func installed() async -> Bool {
        do {
            _ = try await client.list(BGPPeer.self, options: ListOptions(limit: 1))
            return true
        } catch {
            logger.info(
                "BGPPeer resource not installed; no BGP status to report (apply deploy/base/bgppeers.yaml and restart)",
                metadata: ["error": "\(error.message)"])
            return false
        }
    }

    /// Until cancelled: both informers, and one status pass per burst of their events.
    func run() async {
        let (changes, changed) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await withDiscardingTaskGroup { group in
            group.addTask { await self.nodes.run { _ in changed.yield() } }
            group.addTask { await self.peers.run { _ in changed.yield() } }
            group.addTask {
                await withTaskCancellationHandler {
                    for await _ in changes {
                        try? await self.clock.sleep(for: self.coalescing)
                        guard await self.report() else {
                            // A status not written (API server away, RBAC): try again, not at the next node event.
                            try? await self.clock.sleep(for: .seconds(5))
                            changed.yield()
                            continue
                        }
                    }
                } onCancel: {
                    changed.finish()
                }
            }
        }
    }

    /// One pass: Events for what changed on the nodes, then the status of every peer whose status differs.
    /// False when a status could not be written.
    @discardableResult
    func report() async -> Bool {
        guard await nodes.hasSynced, await peers.hasSynced else { return true }
        var published: [String: BGPSessionState] = [:]
        for node in await nodes.list() {
            guard let name = node.metadata.name,
                let state = BGPSessionState(annotation: node.metadata.annotations[BGPSessionState.annotation])
            else { continue }
            published[name] = state
        }
        let objects = await peers.list()
        let byName = Dictionary(objects.map { ($0.metadata.name ?? "", $0) }, uniquingKeysWith: { first, _ in first })
        for event in machine.nodesPublished(published) {
            // A node may still report a peer that was just deleted: nothing to attach the Event to.
            guard let peer = byName[event.peer] else { continue }
            events.post(
                peer.reference, type: event.warning ? .warning : .normal, reason: event.reason.rawValue,
                message: event.message)
        }
        var written = true
        for peer in objects {
            guard let name = peer.metadata.name else { continue }
            let identity = peer.metadata.uid ?? name
            let previous = lastWritten[identity].map(BGPPeer.Status.init(json:)) ?? peer.status
            let status = machine.status(of: name, previous: previous, generation: peer.metadata.generation)
            guard lastWritten[identity] != status else { continue }
            do {
                _ = try await client.patchStatus(BGPPeer.self, namespace: nil, name: name, .object(status))
                lastWritten[identity] = status
            } catch  where error.code == .notFound {
                // Deleted meanwhile.
            } catch {
                written = false
                logger.warning(
                    "could not write BGPPeer status", metadata: ["peer": "\(name)", "error": "\(error.message)"])
            }
        }
        return written
    }
}
