public import IPAM
public import Keepalived

/// The agent's decisions, without I/O: events in (plan seen or unavailable, keepalived started,
/// exited, reload confirmed, timers), actions out. `NodeAgent` runs the actions in order.
///
/// Its rules, each one an outage when broken:
/// - an unavailable plan (key, ConfigMap or valid content missing) keeps the previous one;
/// - an address that leaves the plan while keepalived runs is removed only after keepalived
///   confirmed the reload that dropped it (removing it earlier makes keepalived see a VIP vanish
///   from a MASTER instance, drop to BACKUP and interrupt every other VIP of that instance);
/// - keepalived gone means every VIP of the plan leaves the interface at once;
/// - a node the plan drops (the exclusion label, a pool's selector) keeps serving for `handoverDelay` before it
///   stops: its peers reload the same plan first, so they hear its priority-0 advert and take over at once
///   instead of after three advert intervals;
/// - a VIP only this node may hold (`VRRPPlan.soleAddresses`) is the agent's, not keepalived's: it stays through
///   keepalived's restarts and the agent's own (a rolling update), as no other node could take it over.
public struct AgentStateMachine: Sendable {
    public enum Event: Sendable {
        /// A valid plan, the keepalived.conf it gives this node, and the VIPs the agent holds outside keepalived.
        case planChanged(VRRPPlan, config: String, agentHeld: [IPAddress] = [])
        /// No usable plan: the ConfigMap or its plan key is missing, or the plan is invalid.
        case planUnavailable(reason: String)
        case keepalivedStartFailed(message: String)
        case keepalivedExited(status: Int32)
        /// keepalived reported an instance's state (it is up and reading its configuration).
        case stateReported(NotifyMessage)
        case reloadConfirmed(Int)
        case reloadTimedOut(Int)
        case restartTimerFired
        /// `handoverDelay` after the plan dropped this node.
        case handoverTimerFired
        case stopRequested
        /// What conntrackd learnt for these VIPs is committed here (`adoptConnections` done).
        case connectionsAdopted([IPAddress])
        /// A second after `releaseConnections`: this node's entries for these VIPs are gone.
        case connectionsReleased([IPAddress])
    }

    public enum Action: Equatable, Sendable {
        case writeConfig(String, plan: VRRPPlan)
        case startKeepalived
        /// Send SIGHUP; report `reloadConfirmed(id)` when keepalived logs completion, or
        /// `reloadTimedOut(id)` after `reloadConfirmationTimeout`.
        case reloadKeepalived(id: Int)
        case stopKeepalived
        case removeVIPs([IPAddress], reason: String)
        /// Put those of these VIPs that are missing on their interfaces (the ones the agent holds itself).
        case addVIPs([IPAddress])
        /// Remove the instances' tokens (`AdvertisedAddresses.token`) a dead keepalived left on the loopback device.
        case removeTokens(reason: String)
        /// keepalived died while master of these instances (its group is gone, its VIPs removed):
        /// send the priority-0 advert it would have sent on a clean stop, so a backup takes over
        /// after its skew time instead of three advert intervals.
        case announceRelease([VRRPPlan.Instance])
        case keepPreviousPlan(reason: String)
        case scheduleRestart(after: Duration)
        /// Report `handoverTimerFired` after this long.
        case scheduleHandover(after: Duration)
        /// The VRRP state of an instance changed (metrics, log).
        case recordTransition(NotifyMessage)
        /// keepalived is gone: what these instances were is no longer known (their state metric says 0).
        case instancesStopped([String])
        /// These instances left this node's plan: their state metric goes, not stays at its last value.
        case instancesRemoved([String])
        case publish
        /// Install the VIP filter (`VIPFirewall.script`), replacing the previous one whole.
        case applyFirewall(String)
        /// Remove the VIP filter (the agent stops; its VIPs are gone).
        case removeFirewall
        /// Render the plan again: an instance started as master has become master, and goes back to its usual
        /// priority so that a later restart of keepalived waits its preempt delay.
        case rerender
        /// This node became master of these VIPs: delete its transit entries of their flows (a pod here served
        /// them through the previous holder), commit conntrackd's copy of the previous holder's, then report
        /// `connectionsAdopted`. Only with connection handover on.
        case adoptConnections([IPAddress])
        /// This node gave these VIPs up: after `releaseGrace`, delete its entries of their flows (the new holder
        /// has committed its copy by then) and report `connectionsReleased`.
        case releaseConnections([IPAddress])
    }

    public enum KeepalivedPhase: Equatable, Sendable {
        case stopped
        case running
        case restartScheduled
        /// Running with a plan that no longer has this node, until `handoverTimerFired` stops it.
        case handingOver
    }

    public let nodeName: String
    public private(set) var plan: VRRPPlan?
    public private(set) var config: String?
    public private(set) var keepalived: KeepalivedPhase = .stopped
    public private(set) var tracker = VRRPStateTracker()
    /// Instances with a state metric (every one keepalived has reported since it entered the plan).
    private var reported: Set<String> = []
    /// While handing over: the addresses keepalived may still hold, removed when it stops.
    private var handingOver: [IPAddress] = []
    /// Addresses that left the plan, by the reload after which they may go.
    public private(set) var pendingRemoval: [IPAddress: Int] = [:]
    /// VIPs the agent holds itself (only this node may hold them), kept through keepalived's and its own restarts.
    public private(set) var agentHeld: [IPAddress] = []
    /// VIPs the agent held that keepalived now elects (another node may hold them too), by the reload after which
    /// they leave this node unless keepalived is master of their instance here.
    private var handedToKeepalived: [IPAddress: Int] = [:]
    public private(set) var stopping = false
    /// Instances the renderings start as master at once (`startAsMaster(in:)`), until keepalived reports them MASTER.
    public private(set) var startingAsMaster: Set<String> = []
    /// The VIP filter last installed (nil: none, or filtering is off).
    public private(set) var firewall: String?
    private let filtersVIPs: Bool
    /// kube-proxy's masquerade bit when connections are kept across moves (`VIPFirewall.Handover`); nil: off.
    private let handoverMasqueradeBit: Int?
    /// VIPs this node is master of whose connections it has committed; `adopting`: not yet.
    public private(set) var adopted: Set<IPAddress> = []
    private var adopting: Set<IPAddress> = []
    /// How many `releaseConnections` of each VIP have not reported `connectionsReleased` yet: a VIP given up, taken
    /// back and given up again within the grace has two, and only the last may delete (`releasable`).
    private var pendingReleases: [IPAddress: Int] = [:]
    /// VIPs given up less than `releaseGrace` ago.
    public var releasing: Set<IPAddress> { Set(pendingReleases.keys) }
    private var reloads = 0
    private var restartDelay: Duration

    public static let initialRestartDelay: Duration = .milliseconds(100)
    public static let maximumRestartDelay: Duration = .seconds(10)
    /// How long a node the plan dropped keeps serving: far longer than a peer's reload (milliseconds), far
    /// shorter than anyone waits for a plan change to take effect.
    public static let handoverDelay: Duration = .seconds(1)
    /// keepalived re-reads its configuration in milliseconds; past this the removal goes ahead.
    public static let reloadConfirmationTimeout: Duration = .seconds(3)
    /// How long a node that gave a VIP up keeps its entries of the VIP's flows: the new holder commits its copy
    /// within milliseconds of becoming master; measured in `scripts/lib/handover-lab.sh`.
    public static let releaseGrace: Duration = .seconds(1)

    /// `filtersVIPs`: keep `VIPFirewall` in step with the plan. `handoverMasqueradeBit`: keep connections across
    /// moves (needs `filtersVIPs`: its rules live in the same table).
    public init(nodeName: String, filtersVIPs: Bool = false, handoverMasqueradeBit: Int? = nil) {
        self.nodeName = nodeName
        self.filtersVIPs = filtersVIPs
        self.handoverMasqueradeBit = filtersVIPs ? handoverMasqueradeBit : nil
        restartDelay = Self.initialRestartDelay
    }

    /// Whether this node takes part in any instance of `plan` (else keepalived need not run).
    public func hasInstances(_ plan: VRRPPlan?) -> Bool {
        guard let plan else { return false }
        return plan.instances.contains { plan.rank(of: nodeName, in: $0) != nil }
    }

    public var heldAddresses: [IPAddress] {
        guard !agentHeld.isEmpty else { return tracker.held(in: plan) }
        return Set(tracker.held(in: plan) + agentHeld).sorted()
    }

    /// keepalived runs and has said where it stands (MASTER, BACKUP or FAULT) in every instance this node takes
    /// part in; true with no such instance (nothing to run).
    public var everyInstanceReported: Bool {
        guard let plan, hasInstances(plan) else { return plan != nil && !stopping }
        guard keepalived == .running, !stopping else { return false }
        return plan.instances.allSatisfy { instance in
            plan.rank(of: nodeName, in: instance) == nil || tracker.states[plan.instanceName(instance)] != nil
        }
    }

    /// Instances of the plan that keepalived reported this node MASTER of.
    private var heldInstances: [VRRPPlan.Instance] {
        guard let plan else { return [] }
        return plan.instances.filter { tracker.isMaster(plan.instanceName($0)) }
    }

    /// The instances of `newPlan` its rendering starts as master at once (`state MASTER`, priority 255): an instance
    /// new to the cluster, on its preferred node, waits for no election (nobody can be master of it yet). Only
    /// against a plan this process applied: after a restart another node may be master already. An instance stays
    /// in the set, whatever renderings come in between, until keepalived reports it MASTER.
    public mutating func startAsMaster(in newPlan: VRRPPlan) -> Set<String> {
        let present = Set(newPlan.instances.map(newPlan.instanceName))
        let new =
            plan.map { previous in
                newPlan.instancesNew(since: previous).filter { newPlan.rank(of: nodeName, in: $0) == 0 }
                    .map(newPlan.instanceName)
            } ?? []
        startingAsMaster = startingAsMaster.intersection(present).union(new)
        return startingAsMaster
    }

    /// What this node's adverts list: agreed with the other nodes' agents (`AdvertisedAddresses.agreed`).
    public private(set) var adverts: AdvertisedAddresses = .token

    /// What an operator is told about the advert form a rendering uses.
    public enum AdvertsNotice: Equatable, Sendable {
        /// The form changed (an older agent joined, or the last one was upgraded).
        case changed(AdvertisedAddresses)
        /// Adverts list VIPs while the plan restricts some to nodes: those follow this node's mastership instead.
        case restrictedVIPsFollowMastership
    }

    /// Takes the form the peers agree on for `newPlan`'s rendering; says what an operator should hear.
    public mutating func advertsAgreed(_ agreed: AdvertisedAddresses, for newPlan: VRRPPlan) -> [AdvertsNotice] {
        var notices: [AdvertsNotice] = []
        if agreed != adverts {
            adverts = agreed
            notices.append(.changed(agreed))
        }
        if adverts == .vips, newPlan.instances.contains(where: { !$0.allowedNodes.isEmpty }) {
            notices.append(.restrictedVIPsFollowMastership)
        }
        return notices
    }

    public mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case .planChanged(let newPlan, let newConfig, let agentHeld):
            return planChanged(newPlan, config: newConfig, agentHeld: agentHeld)
        case .planUnavailable(let reason): return stopping ? [] : [.keepPreviousPlan(reason: reason)]
        case .keepalivedStartFailed: return keepalivedGone(reason: "keepalived could not start", crashed: false)
        case .keepalivedExited: return keepalivedGone(reason: "keepalived exited", crashed: true)
        case .stateReported(let message): return stateReported(message)
        case .reloadConfirmed(let id): return removeDue(upTo: id, reason: "removed from the plan")
        case .reloadTimedOut(let id):
            return removeDue(upTo: id, reason: "removed from the plan (keepalived did not confirm its reload)")
        case .restartTimerFired: return restartTimerFired()
        case .handoverTimerFired: return handoverTimerFired()
        case .stopRequested: return stopRequested()
        case .connectionsAdopted(let addresses):
            let done = adopting.intersection(addresses)
            adopting.subtract(done)
            adopted.formUnion(done)
            return firewallActions()
        case .connectionsReleased(let addresses):
            for address in addresses {
                let left = (pendingReleases[address] ?? 1) - 1
                pendingReleases[address] = left > 0 ? left : nil
            }
            return firewallActions()
        }
    }

    private mutating func planChanged(_ newPlan: VRRPPlan, config newConfig: String, agentHeld newHeld: [IPAddress])
        -> [Action]
    {
        guard !stopping else { return [] }
        // Back in the plan while handing over: it never stopped, so it is reloaded like any running keepalived.
        var leftover: [IPAddress] = []
        if keepalived == .handingOver, hasInstances(newPlan) {
            keepalived = .running
            leftover = handingOver
            handingOver = []
        }
        let oldPlan = plan
        plan = newPlan
        let kept = Set(newPlan.addresses)
        // An address that came back is no longer on its way out.
        pendingRemoval = pendingRemoval.filter { !kept.contains($0.key) }
        // Held by the agent and still in the plan, but now elected: keepalived adds it where it is master, so here
        // it goes after the reload unless this node is that master. Left the plan: the usual removal below.
        let stillHeld = Set(newHeld)
        let heldChanged = stillHeld != Set(agentHeld)
        let handed = agentHeld.filter { kept.contains($0) && !stillHeld.contains($0) }
        // keepalived never knew these: they go at once, whether or not its configuration changed.
        let released = agentHeld.filter { !kept.contains($0) }
        handedToKeepalived = handedToKeepalived.filter { !stillHeld.contains($0.key) && kept.contains($0.key) }
        agentHeld = newHeld.sorted()
        let release: [Action] = released.isEmpty ? [] : [.removeVIPs(released, reason: "removed from the plan")]
        let hold: [Action] = agentHeld.isEmpty ? [] : [.addVIPs(agentHeld)]
        // Ports change without keepalived's configuration changing; a new VIP is filtered before it is held.
        let filter = firewallActions() + followHeld()
        // What the agent holds is published on the Node (the controller's split-brain and placement views).
        guard newConfig != config else { return release + filter + hold + (heldChanged ? [.publish] : []) }
        config = newConfig
        let departed = Set((oldPlan?.addresses ?? []) + leftover).subtracting(released).filter { !kept.contains($0) }
            .sorted()
        var actions: [Action] = release + filter + hold + [.writeConfig(newConfig, plan: newPlan)]
        let names = Set(newPlan.instances.map(newPlan.instanceName))
        let removed = reported.subtracting(names)
        if !removed.isEmpty {
            reported.subtract(removed)
            actions.append(.instancesRemoved(removed.sorted()))
        }

        if !hasInstances(newPlan) {
            switch keepalived {
            case .running:
                // Serving on with the old configuration (written, not reloaded) until the peers have this plan.
                keepalived = .handingOver
                handingOver = (oldPlan?.addresses ?? []) + pendingRemoval.keys.sorted()
                actions.append(.scheduleHandover(after: Self.handoverDelay))
            case .handingOver:
                break
            case .stopped, .restartScheduled:
                keepalived = .stopped
                tracker = VRRPStateTracker()
                pendingRemoval = [:]
                actions.append(.removeVIPs(oldPlan?.addresses ?? [], reason: "no instance for this node"))
            }
        } else {
            switch keepalived {
            case .running:
                reloads += 1
                for address in departed { pendingRemoval[address] = reloads }
                for address in handed { handedToKeepalived[address] = reloads }
                actions.append(.reloadKeepalived(id: reloads))
            case .stopped:
                // Nothing holds the departed addresses: they can go before keepalived starts.
                actions.append(.removeVIPs(departed + handed, reason: "removed from the plan"))
                keepalived = .running
                actions.append(.startKeepalived)
            case .restartScheduled:
                actions.append(.removeVIPs(departed + handed, reason: "removed from the plan"))
            case .handingOver:
                break
            }
        }
        actions.append(.publish)
        return actions.filter { if case .removeVIPs(let list, _) = $0 { !list.isEmpty } else { true } }
    }

    private mutating func keepalivedGone(reason: String, crashed: Bool) -> [Action] {
        guard !stopping, keepalived == .running || keepalived == .handingOver else { return [] }
        let addresses = Array(
            Set((plan?.addresses ?? []) + pendingRemoval.keys + handingOver + handedToKeepalived.keys)
                .subtracting(agentHeld)
        ).sorted()
        handingOver = []
        handedToKeepalived = [:]
        // Only instances this node's keepalived itself reported MASTER: never one another node holds.
        let released = crashed ? heldInstances : []
        tracker = VRRPStateTracker()
        // A dead keepalived leaves its VIPs behind while another node takes them over; those
        // still awaiting a reload go too.
        pendingRemoval = [:]
        keepalived = .restartScheduled
        let delay = restartDelay
        restartDelay = min(restartDelay * 2, Self.maximumRestartDelay)
        var actions: [Action] =
            [.removeVIPs(addresses, reason: reason), .removeTokens(reason: reason)] + followHeld()
        if !released.isEmpty { actions.append(.announceRelease(released)) }
        if !reported.isEmpty { actions.append(.instancesStopped(reported.sorted())) }
        return actions + [.publish, .scheduleRestart(after: delay)]
    }

    private mutating func handoverTimerFired() -> [Action] {
        guard !stopping, keepalived == .handingOver else { return [] }
        keepalived = .stopped
        tracker = VRRPStateTracker()
        let addresses = handingOver + pendingRemoval.keys.sorted() + handedToKeepalived.keys.sorted()
        handingOver = []
        pendingRemoval = [:]
        handedToKeepalived = [:]
        // The handover's guard goes up and its grace starts before keepalived stops (its priority-0 advert moves
        // the VIPs at once; it exits a second later).
        var actions: [Action] = followHeld() + [.stopKeepalived]
        if !addresses.isEmpty {
            actions.append(.removeVIPs(Array(Set(addresses)).sorted(), reason: "no instance for this node"))
        }
        if !reported.isEmpty {
            actions.append(.instancesRemoved(reported.sorted()))
            reported = []
        }
        return actions + [.publish]
    }

    private mutating func restartTimerFired() -> [Action] {
        guard !stopping, keepalived == .restartScheduled else { return [] }
        guard hasInstances(plan) else {
            keepalived = .stopped
            return []
        }
        keepalived = .running
        return [.startKeepalived]
    }

    private mutating func stateReported(_ message: NotifyMessage) -> [Action] {
        guard keepalived == .running || keepalived == .handingOver else { return [] }
        // It runs and reports: the next crash starts the backoff afresh.
        restartDelay = Self.initialRestartDelay
        guard tracker.apply(message) else { return [] }
        guard message.state != .deleted else {
            reported.remove(message.instance)
            return [.recordTransition(message), .instancesRemoved([message.instance]), .publish]
        }
        reported.insert(message.instance)
        let handover = followHeld()
        if message.state == .master, startingAsMaster.remove(message.instance) != nil {
            return [.recordTransition(message)] + handover + [.publish, .rerender]
        }
        return [.recordTransition(message)] + handover + [.publish]
    }

    private mutating func removeDue(upTo id: Int, reason: String) -> [Action] {
        var due = pendingRemoval.filter { $0.value <= id }.keys.sorted()
        for address in due { pendingRemoval[address] = nil }
        // Handed to keepalived: stays where keepalived is master of its instance (it holds it now).
        let mastered = Set(tracker.held(in: plan))
        let handed = handedToKeepalived.filter { $0.value <= id }.keys.sorted()
        for address in handed { handedToKeepalived[address] = nil }
        due += handed.filter { !mastered.contains($0) }
        guard !due.isEmpty else { return [] }
        return [.removeVIPs(due, reason: reason)]
    }

    private mutating func stopRequested() -> [Action] {
        guard !stopping else { return [] }
        stopping = true
        var actions: [Action] = []
        // Guarded before keepalived stops: the new holder forwards to pods here as soon as it is master. The guard
        // stays up until this node's entries are gone (after the grace; the new holders have committed by then).
        let giving = handoverMasqueradeBit == nil ? [] : adopted.union(adopting)
        // Counted before the guard is written: it lists what is releasing.
        let released = giving.isEmpty ? nil : release(giving)
        if !giving.isEmpty, let plan {
            adopted = []
            adopting = []
            let handover = handoverMasqueradeBit.map { VIPFirewall.Handover(masqueradeBit: $0, releasing: releasing) }
            actions.append(.applyFirewall(VIPFirewall.script(for: plan, handover: handover)))
        }
        if keepalived == .running || keepalived == .handingOver { actions.append(.stopKeepalived) }
        keepalived = .stopped
        tracker = VRRPStateTracker()
        // The VIPs only this node may hold stay: nobody could take them over, and the next agent here (a rolling
        // update) keeps them; kube-proxy serves them meanwhile.
        let addresses = Array(
            Set((plan?.addresses ?? []) + pendingRemoval.keys.sorted() + handingOver + handedToKeepalived.keys)
                .subtracting(agentHeld)
        ).sorted()
        handingOver = []
        pendingRemoval = [:]
        handedToKeepalived = [:]
        if !addresses.isEmpty { actions.append(.removeVIPs(addresses, reason: "agent stopping")) }
        // keepalived removes its tokens on a clean stop; one killed after the grace period leaves them.
        if plan != nil { actions.append(.removeTokens(reason: "agent stopping")) }
        if let released { actions.append(released) }
        if firewall != nil {
            if let plan, !agentHeld.isEmpty {
                // The VIPs that stay are filtered as before; the rest of the filter goes with its VIPs.
                let script = VIPFirewall.script(for: plan, only: Set(agentHeld))
                firewall = nil
                actions.append(.applyFirewall(script))
            } else {
                firewall = nil
                actions.append(.removeFirewall)
            }
        }
        actions.append(.publish)
        return actions
    }

    /// The VIP filter for the plan and the handover state, when it differs from the one installed.
    private mutating func firewallActions() -> [Action] {
        guard filtersVIPs, !stopping, let plan else { return [] }
        let waiting = Set(plan.instances.flatMap(\.addresses)).subtracting(adopted).subtracting(releasing)
            .subtracting(agentHeld)
        let handover = handoverMasqueradeBit.map {
            VIPFirewall.Handover(masqueradeBit: $0, adopted: adopted, releasing: releasing, waiting: waiting)
        }
        let script = VIPFirewall.script(for: plan, handover: handover)
        guard script != firewall else { return [] }
        firewall = script
        return [.applyFirewall(script)]
    }

    private mutating func release(_ addresses: Set<IPAddress>) -> Action {
        for address in addresses { pendingReleases[address, default: 0] += 1 }
        return .releaseConnections(addresses.sorted())
    }

    /// Of `addresses`, whose grace just ended, those whose entries may go: not taken back meanwhile (a VIP that
    /// flapped back, its flows live here again), nor given up again since (that later release deletes them, once the
    /// new holder has committed).
    public func releasable(_ addresses: [IPAddress]) -> [IPAddress] {
        addresses.filter { pendingReleases[$0] == 1 && !adopted.contains($0) && !adopting.contains($0) }
    }

    /// After a commit for `addresses`, the VIPs whose unmasqueraded (Local) entries are cleaned: the closed ones and
    /// those of another node's flows. A commit writes every VIP's, so not only those taken over now: a Local VIP held
    /// here got the previous holder's closed entries back at the next commit for another VIP, and a new connection
    /// reusing one of their client ports followed one to that holder's pod (a timeout). VIPs held elsewhere get theirs
    /// deleted when they come here.
    public func unmasqueradedToClean(afterCommitFor addresses: [IPAddress]) -> [IPAddress] {
        Set(addresses).union(adopted).sorted()
    }

    /// The plan's keepalived VIPs this node neither holds, takes over nor gives up: a commit brings the other holders'
    /// entries of them too, and those must go (`NodeAgent.adoptConnections`).
    public var heldElsewhere: Set<IPAddress> {
        guard let plan else { return [] }
        return Set(plan.instances.flatMap(\.addresses)).subtracting(heldAddresses).subtracting(adopted)
            .subtracting(adopting).subtracting(pendingReleases.keys)
    }

    /// Connection handover follows what keepalived holds here: a VIP it took is adopted, one it gave up released.
    private mutating func followHeld() -> [Action] {
        guard handoverMasqueradeBit != nil, !stopping else { return [] }
        let held = Set(tracker.held(in: plan))
        let taken = held.subtracting(adopted).subtracting(adopting)
        let given = adopted.union(adopting).subtracting(held)
        guard !taken.isEmpty || !given.isEmpty else { return [] }
        adopted.subtract(given)
        adopting.subtract(given)
        adopting.formUnion(taken)
        let released = given.isEmpty ? nil : release(given)
        var actions = firewallActions()
        if let released { actions.append(released) }
        if !taken.isEmpty { actions.append(.adoptConnections(taken.sorted())) }
        return actions
    }
}
