import IPAM
import Keepalived
import NodeAgent
import Testing

/// A VIP only this node may hold (a Local Service whose endpoints are all here) is the agent's: keepalived's
/// restarts and the agent's own (a rolling update of the DaemonSet) leave it on the interface.
@Suite("VIPs the agent holds itself (no I/O)")
struct AgentHeldVIPTests {
    typealias Action = AgentStateMachine.Action

    let cluster = try! IPAddress("203.0.113.65")
    let local = try! IPAddress("203.0.113.66")

    /// One group over nodes a and b; `local` may be held by the nodes at `localNodes` only.
    private func plan(localNodes: [Int]) throws -> VRRPPlan {
        try VRRPPlan(
            cluster: "fcp", nodes: ["a", "b"],
            instances: [
                .init(
                    vrid: 50, family: .ipv4, preferred: 0, addresses: [cluster, local],
                    allowedNodes: [local: localNodes],
                    ports: [cluster: [try VIPPort(.tcp, 80)], local: [try VIPPort(.tcp, 8080)]])
            ])
    }

    private func removed(_ actions: [Action]) -> [IPAddress] {
        actions.flatMap { action -> [IPAddress] in
            guard case .removeVIPs(let list, _) = action else { return [] }
            return list
        }
    }

    @Test func theSolePlanHelperNamesOnlyVIPsNoOtherNodeMayHold() throws {
        #expect(try plan(localNodes: [0]).soleAddresses(of: "a") == [local])
        #expect(try plan(localNodes: [0]).soleAddresses(of: "b").isEmpty)
        #expect(try plan(localNodes: [0, 1]).soleAddresses(of: "a").isEmpty)
        #expect(try plan(localNodes: [0]).soleAddresses(of: "c").isEmpty)
    }

    @Test func itIsAddedWithThePlanAndStaysWhenKeepalivedDiesOrTheAgentStops() throws {
        var machine = AgentStateMachine(nodeName: "a", filtersVIPs: true)
        let first = machine.handle(.planChanged(try plan(localNodes: [0]), config: "v1", agentHeld: [local]))
        #expect(first.firstIndex(of: .addVIPs([local])) == 1)
        #expect(
            { if case .applyFirewall(let script) = first.first { script.contains("\(local)") } else { false } }(),
            "filtered before it is on the interface: \(first)")
        #expect(first.contains(.startKeepalived))
        #expect(machine.heldAddresses == [local], "published as held although keepalived reported nothing yet")

        let crash = machine.handle(.keepalivedExited(status: 9))
        #expect(removed(crash) == [cluster], "keepalived's VIPs go with it; the agent's stays")

        _ = machine.handle(.restartTimerFired)
        let stop = machine.handle(.stopRequested)
        #expect(removed(stop) == [cluster])
        #expect(!stop.contains(.removeFirewall), "the VIP that stays keeps its filter")
        let filter = stop.compactMap { if case .applyFirewall(let script) = $0 { script } else { nil } }
        #expect(filter.count == 1)
        #expect(filter.first?.contains("\(local)") == true && filter.first?.contains("\(cluster)") == false)
    }

    @Test func withoutSuchAVIPTheStoppingAgentRemovesEverythingAsBefore() throws {
        var machine = AgentStateMachine(nodeName: "a", filtersVIPs: true)
        _ = machine.handle(.planChanged(try plan(localNodes: [0, 1]), config: "v1"))
        let stop = machine.handle(.stopRequested)
        #expect(Set(removed(stop)) == [cluster, local])
        #expect(stop.contains(.removeFirewall))
    }

    /// A second endpoint on node b: keepalived elects the VIP again, so it stays only where keepalived is master.
    @Test func onceAnotherNodeMayHoldItItLeavesAfterTheReloadUnlessThisNodeIsMaster() throws {
        var machine = AgentStateMachine(nodeName: "a")
        _ = machine.handle(.planChanged(try plan(localNodes: [0]), config: "v1", agentHeld: [local]))
        let shared = machine.handle(.planChanged(try plan(localNodes: [0, 1]), config: "v2"))
        #expect(removed(shared).isEmpty, "before keepalived has re-read its configuration it stays")
        #expect(shared.contains(.reloadKeepalived(id: 1)))
        #expect(removed(machine.handle(.reloadConfirmed(1))) == [local], "b's master holds it now")

        var master = AgentStateMachine(nodeName: "a")
        _ = master.handle(.planChanged(try plan(localNodes: [0]), config: "v1", agentHeld: [local]))
        _ = master.handle(.stateReported(NotifyMessage(instance: "fcp_v4_50", state: .master, priority: 250)))
        _ = master.handle(.planChanged(try plan(localNodes: [0, 1]), config: "v2"))
        #expect(removed(master.handle(.reloadConfirmed(1))).isEmpty, "this node's keepalived is master: it holds it")
    }

    /// The pod moved to node b (or is no longer ready): the VIP leaves this node's plan and goes at once, as
    /// keepalived never knew it. Its configuration does not change either (scripts/chaos found it held on).
    @Test func whenItsEndpointsMoveAwayItLeavesAtOnceAlthoughKeepalivedsConfigurationStaysTheSame() throws {
        for localNodes in [[1], []] {
            var machine = AgentStateMachine(nodeName: "a")
            _ = machine.handle(.planChanged(try plan(localNodes: [0]).view(for: "a"), config: "v1", agentHeld: [local]))
            let moved = try plan(localNodes: localNodes).view(for: "a")
            let actions = machine.handle(.planChanged(moved, config: "v1"))
            #expect(removed(actions) == [local], "\(localNodes)")
            #expect(!actions.contains { if case .reloadKeepalived = $0 { true } else { false } })
            #expect(machine.heldAddresses.isEmpty)
        }
    }

    /// keepalived removes every VIP of its configuration when it starts; one it never knew, it never touches.
    @Test func keepalivedIsNotToldOfIt() throws {
        let plan = try plan(localNodes: [0])
        let input = NodeRenderInput(
            plan: plan, node: .init(name: "a", internalAddresses: [try IPAddress("192.0.2.1")], state: nil),
            member: { _ in nil }, interface: "eth0", unicast: false, advertIntervalMilliseconds: 200,
            stateDirectory: "/run/klb", interfaces: nil)
        let (applied, config, agentHeld) = try input.render()
        #expect(agentHeld == [local])
        #expect(applied.addresses.contains(local), "still this node's to filter and publish")
        #expect(config.contains("\(cluster)/32") && !config.contains("\(local)/32"))
        let other = NodeRenderInput(
            plan: plan, node: .init(name: "b", internalAddresses: [try IPAddress("192.0.2.2")], state: nil),
            member: { _ in nil }, interface: "eth0", unicast: false, advertIntervalMilliseconds: 200,
            stateDirectory: "/run/klb", interfaces: nil)
        #expect(try other.render().agentHeld.isEmpty)
    }
}
