import IPAM
import Keepalived
import NodeAgent
import Testing

/// The agent's ordering rules, stated as events in and actions out: no keepalived, no sleeps.
@Suite("Agent state machine (no I/O)")
struct AgentStateMachineTests {
    typealias Action = AgentStateMachine.Action

    private func plan(_ addresses: [String], nodes: [String] = ["a", "b"]) throws -> VRRPPlan {
        try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "50-50"), groups: 1)
            .plan(addresses: addresses.map { try IPAddress($0) }, nodes: nodes)
    }

    private func ip(_ text: String) throws -> IPAddress { try IPAddress(text) }

    /// Started with a first plan, keepalived running.
    private func running(_ addresses: [String]) throws -> AgentStateMachine {
        var machine = AgentStateMachine(nodeName: "a")
        let first = machine.handle(.planChanged(try plan(addresses), config: "v1"))
        #expect(first.contains(.startKeepalived))
        return machine
    }

    @Test func aRemovedAddressLeavesOnlyAfterKeepalivedConfirmedTheReload() throws {
        var machine = try running(["203.0.113.65", "203.0.113.66"])
        let actions = machine.handle(.planChanged(try plan(["203.0.113.65"]), config: "v2"))
        #expect(actions == [.writeConfig("v2", plan: try plan(["203.0.113.65"])), .reloadKeepalived(id: 1), .publish])
        #expect(
            !actions.contains { if case .removeVIPs = $0 { true } else { false } },
            "removing before the reload makes keepalived see a VIP vanish from a MASTER instance")
        #expect(machine.handle(.reloadConfirmed(0)).isEmpty, "an older reload does not cover it")
        #expect(
            machine.handle(.reloadConfirmed(1)) == [
                .removeVIPs([try ip("203.0.113.66")], reason: "removed from the plan")
            ])
        #expect(machine.handle(.reloadConfirmed(1)).isEmpty, "removed once")
    }

    @Test func anUnconfirmedReloadStillRemovesAfterItsTimeout() throws {
        var machine = try running(["203.0.113.65", "203.0.113.66"])
        _ = machine.handle(.planChanged(try plan(["203.0.113.65"]), config: "v2"))
        let actions = machine.handle(.reloadTimedOut(1))
        #expect(actions.count == 1)
        guard case .removeVIPs(let list, _) = actions.first else {
            Issue.record("\(actions)")
            return
        }
        #expect(list == [try ip("203.0.113.66")])
    }

    @Test func anAddressThatComesBackBeforeTheConfirmationIsNotRemoved() throws {
        var machine = try running(["203.0.113.65", "203.0.113.66"])
        _ = machine.handle(.planChanged(try plan(["203.0.113.65"]), config: "v2"))
        _ = machine.handle(.planChanged(try plan(["203.0.113.65", "203.0.113.66"]), config: "v3"))
        #expect(machine.handle(.reloadConfirmed(1)).isEmpty)
        #expect(machine.handle(.reloadConfirmed(2)).isEmpty)
        #expect(machine.pendingRemoval.isEmpty)
    }

    @Test func aMissingOrInvalidPlanKeepsThePreviousOneAndTouchesNothing() throws {
        var machine = try running(["203.0.113.65"])
        for reason in ["ConfigMap kube-system/vip-configmap does not exist", "no key", "invalid JSON"] {
            #expect(machine.handle(.planUnavailable(reason: reason)) == [.keepPreviousPlan(reason: reason)])
        }
        #expect(machine.keepalived == .running)
        #expect(machine.plan == (try plan(["203.0.113.65"])))
        // When it comes back unchanged nothing is rewritten or reloaded.
        #expect(machine.handle(.planChanged(try plan(["203.0.113.65"]), config: "v1")).isEmpty)
    }

    /// A plan that drops this node: keepalived serves on (old configuration, no reload) for the hand-over delay,
    /// so the peers reload first and hear its priority-0 advert; then it stops and its VIPs go.
    @Test func anExplicitPlanWithoutThisNodeHandsOverThenStopsKeepalived() throws {
        var machine = try running(["203.0.113.65"])
        let actions = machine.handle(.planChanged(try plan(["203.0.113.65"], nodes: ["b"]), config: "empty"))
        #expect(actions.contains(.scheduleHandover(after: AgentStateMachine.handoverDelay)))
        #expect(
            !actions.contains(.stopKeepalived) && !actions.contains { if case .removeVIPs = $0 { true } else { false } }
        )
        #expect(
            !actions.contains { if case .reloadKeepalived = $0 { true } else { false } },
            "the old configuration runs on")
        #expect(machine.keepalived == .handingOver)
        let stop = machine.handle(.handoverTimerFired)
        #expect(stop.first == .stopKeepalived)
        #expect(stop.contains(.removeVIPs([try ip("203.0.113.65")], reason: "no instance for this node")))
        #expect(machine.keepalived == .stopped)
        #expect(machine.handle(.handoverTimerFired).isEmpty, "once")
    }

    /// Back in the plan before the hand-over delay ran out: keepalived never stopped and is reloaded.
    @Test func aNodeBackInThePlanDuringTheHandOverIsReloadedNotStopped() throws {
        var machine = try running(["203.0.113.65"])
        _ = machine.handle(.planChanged(try plan(["203.0.113.65"], nodes: ["b"]), config: "empty"))
        let back = machine.handle(.planChanged(try plan(["203.0.113.65"]), config: "v3"))
        #expect(back.contains { if case .reloadKeepalived = $0 { true } else { false } }, "\(back)")
        #expect(machine.keepalived == .running)
        #expect(machine.handle(.handoverTimerFired).isEmpty, "the stale timer does nothing")
        let died = machine.handle(.keepalivedExited(status: 137))
        #expect(died.contains(.removeVIPs([try ip("203.0.113.65")], reason: "keepalived exited")))
    }

    @Test func keepalivedDeathRemovesEveryVIPAndRestartsWithBackoff() throws {
        var machine = try running(["203.0.113.65", "203.0.113.66"])
        _ = machine.handle(.planChanged(try plan(["203.0.113.65"]), config: "v2"))
        let died = machine.handle(.keepalivedExited(status: 137))
        #expect(
            died.first == .removeVIPs([try ip("203.0.113.65"), try ip("203.0.113.66")], reason: "keepalived exited"),
            "the address still awaiting the reload goes too")
        #expect(died.contains(.removeTokens(reason: "keepalived exited")), "its tokens leave the loopback device")
        #expect(died.last == .scheduleRestart(after: AgentStateMachine.initialRestartDelay))
        #expect(machine.pendingRemoval.isEmpty, "the exit removed every VIP; no reload is awaited")
        #expect(machine.handle(.restartTimerFired) == [.startKeepalived])
        let again = machine.handle(.keepalivedExited(status: 1))
        #expect(again.last == .scheduleRestart(after: AgentStateMachine.initialRestartDelay * 2), "backoff doubles")
        _ = machine.handle(.restartTimerFired)
        _ = machine.handle(.stateReported(NotifyMessage(instance: "fcp_v4_50", state: .backup, priority: 200)))
        let third = machine.handle(.keepalivedExited(status: 1))
        #expect(third.last == .scheduleRestart(after: AgentStateMachine.initialRestartDelay), "reset once it reported")
    }

    /// A crashed keepalived sent nothing: the agent speaks for the instances it was master of (and
    /// only those), after the VIPs are off the interface. A start failure held nothing.
    @Test func aCrashAnnouncesTheReleaseOfExactlyTheInstancesItWasMasterOf() throws {
        let twoInstances = try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "50-53"), groups: 4)
            .plan(
                addresses: ["203.0.113.65", "203.0.113.66", "203.0.113.67"].map { try IPAddress($0) },
                nodes: ["a", "b"])
        try #require(twoInstances.instances.count >= 2)
        var machine = AgentStateMachine(nodeName: "a")
        _ = machine.handle(.planChanged(twoInstances, config: "v1"))
        let held = twoInstances.instances[0]
        let backup = twoInstances.instances[1]
        _ = machine.handle(
            .stateReported(NotifyMessage(instance: twoInstances.instanceName(held), state: .master, priority: 250)))
        _ = machine.handle(
            .stateReported(NotifyMessage(instance: twoInstances.instanceName(backup), state: .backup, priority: 200)))
        let actions = machine.handle(.keepalivedExited(status: 137))
        let removal = try #require(actions.firstIndex { if case .removeVIPs = $0 { true } else { false } })
        let announce = try #require(actions.firstIndex(of: .announceRelease([held])), "\(actions)")
        #expect(removal < announce, "VIPs leave the interface before anyone is told")
        _ = machine.handle(.restartTimerFired)
        let failed = machine.handle(.keepalivedStartFailed(message: "no such file"))
        #expect(!failed.contains { if case .announceRelease = $0 { true } else { false } })
    }

    /// A state metric never outlives what it describes: a dead keepalived's instances read 0 (unknown), an
    /// instance that left the plan (or that keepalived reports deleted) loses its series.
    @Test func instanceStatesAreResetOnACrashAndForgottenWhenRemoved() throws {
        let planner = try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "50-53"), groups: 2)
        let both = try planner.plan(
            addresses: ["203.0.113.65", "203.0.113.66"].map { try IPAddress($0) }, nodes: ["a", "b"])
        try #require(both.instances.count == 2)
        let names = both.instances.map(both.instanceName)
        var machine = AgentStateMachine(nodeName: "a")
        _ = machine.handle(.planChanged(both, config: "v1"))
        for name in names {
            _ = machine.handle(.stateReported(NotifyMessage(instance: name, state: .master, priority: 250)))
        }
        let died = machine.handle(.keepalivedExited(status: 137))
        #expect(died.contains(.instancesStopped(names.sorted())), "\(died)")
        _ = machine.handle(.restartTimerFired)
        let one = try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "50-50"), groups: 1)
            .plan(addresses: [try IPAddress("203.0.113.65")], nodes: ["a", "b"])
        let kept = try #require(one.instances.first.map(one.instanceName))
        let gone = try #require(names.first { $0 != kept })
        try #require(names.contains(kept))
        _ = machine.handle(.stateReported(NotifyMessage(instance: kept, state: .backup, priority: 200)))

        let shrunk = machine.handle(.planChanged(one, config: "v2"))
        #expect(shrunk.contains(.instancesRemoved([gone])), "reported before the crash, gone from the plan: \(shrunk)")
        #expect(!shrunk.contains { if case .instancesRemoved(let list) = $0 { list.contains(kept) } else { false } })
        let deleted = machine.handle(.stateReported(NotifyMessage(instance: kept, state: .deleted, priority: 0)))
        #expect(deleted.contains(.instancesRemoved([kept])))
        let again = machine.handle(.keepalivedExited(status: 137))
        #expect(!again.contains { if case .instancesStopped = $0 { true } else { false } }, "nothing left to reset")
    }

    /// Ready means keepalived has taken its place in every instance: a rolling update of the DaemonSet waits for
    /// that before it stops the next node's agent.
    @Test func readyOnlyOnceKeepalivedReportedEveryInstance() throws {
        let both = try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "50-53"), groups: 2)
            .plan(addresses: ["203.0.113.65", "203.0.113.66"].map { try IPAddress($0) }, nodes: ["a", "b"])
        try #require(both.instances.count == 2)
        let names = both.instances.map(both.instanceName)
        var machine = AgentStateMachine(nodeName: "a")
        #expect(!machine.everyInstanceReported, "no plan yet")
        _ = machine.handle(.planChanged(both, config: "v1"))
        #expect(!machine.everyInstanceReported, "keepalived started, silent")
        _ = machine.handle(.stateReported(NotifyMessage(instance: names[0], state: .backup, priority: 200)))
        #expect(!machine.everyInstanceReported, "one of two instances")
        _ = machine.handle(.stateReported(NotifyMessage(instance: names[1], state: .master, priority: 250)))
        #expect(machine.everyInstanceReported)
        _ = machine.handle(.keepalivedExited(status: 137))
        #expect(!machine.everyInstanceReported, "keepalived died: not ready until it reports again")

        var idle = AgentStateMachine(nodeName: "z")
        _ = idle.handle(.planChanged(both, config: "v1"))
        #expect(idle.everyInstanceReported, "a node with no instance has nothing to wait for")
    }

    @Test func aPlanChangeWhileARestartIsScheduledRemovesDepartedAddressesAtOnce() throws {
        var machine = try running(["203.0.113.65", "203.0.113.66"])
        _ = machine.handle(.keepalivedExited(status: 1))
        let actions = machine.handle(.planChanged(try plan(["203.0.113.65"]), config: "v2"))
        #expect(actions.contains(.removeVIPs([try ip("203.0.113.66")], reason: "removed from the plan")))
        #expect(!actions.contains(.startKeepalived), "the scheduled restart starts it")
        #expect(!actions.contains { if case .reloadKeepalived = $0 { true } else { false } })
    }

    @Test func stoppingHandsOverOnceAndIgnoresEverythingAfter() throws {
        var machine = try running(["203.0.113.65"])
        let actions = machine.handle(.stopRequested)
        #expect(
            actions == [
                .stopKeepalived, .removeVIPs([try ip("203.0.113.65")], reason: "agent stopping"),
                .removeTokens(reason: "agent stopping"), .publish,
            ])
        #expect(machine.handle(.stopRequested).isEmpty)
        #expect(machine.handle(.keepalivedExited(status: 0)).isEmpty)
        #expect(machine.handle(.planChanged(try plan(["203.0.113.66"]), config: "v9")).isEmpty)
        #expect(machine.handle(.restartTimerFired).isEmpty)
    }

    @Test func stateReportsArePublishedOnlyWhenTheyChangeSomething() throws {
        var machine = try running(["203.0.113.65"])
        let master = NotifyMessage(instance: "fcp_v4_50", state: .master, priority: 200)
        #expect(machine.handle(.stateReported(master)) == [.recordTransition(master), .publish])
        #expect(machine.handle(.stateReported(master)).isEmpty)
        #expect(machine.heldAddresses == [try ip("203.0.113.65")])
    }
}
