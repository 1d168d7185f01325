import IPAM
import Keepalived
import NodeAgent
import Testing

/// When an instance starts as master at once instead of waiting for an election: decided by the state machine,
/// tested without keepalived (`aNewInstanceStartsOnItsPreferredNodeThenReturnsToItsUsualPriority` runs it for real).
@Suite("Start as master (no I/O)")
struct StartAsMasterTests {
    private func plan(_ instances: [(vrid: Int, preferred: Int)]) throws -> VRRPPlan {
        try VRRPPlan(
            cluster: "fcp", nodes: ["a", "b"],
            instances: try instances.map { vrid, preferred in
                .init(vrid: vrid, family: .ipv4, preferred: preferred, addresses: [try IPAddress("203.0.113.\(vrid)")])
            })
    }

    @Test func onlyAnInstanceNewSinceAPlanThisProcessAppliedAndPreferredHere() throws {
        var machine = AgentStateMachine(nodeName: "a")
        let first = try plan([(50, 0)])
        #expect(machine.startAsMaster(in: first).isEmpty, "after a restart another node may be master already")
        _ = machine.handle(.planChanged(first, config: "v1"))

        let grown = try plan([(50, 0), (51, 0), (52, 1)])
        #expect(machine.startAsMaster(in: grown) == ["fcp_v4_51"], "52 is b's to start")
        _ = machine.handle(.planChanged(grown, config: "v2"))
        #expect(machine.startAsMaster(in: grown) == ["fcp_v4_51"], "kept until keepalived reports it MASTER")
    }

    @Test func keepalivedReportingMasterEndsItAndAsksForARendering() throws {
        var machine = AgentStateMachine(nodeName: "a")
        _ = machine.handle(.planChanged(try plan([(50, 0)]), config: "v1"))
        let grown = try plan([(50, 0), (51, 0)])
        _ = machine.startAsMaster(in: grown)
        _ = machine.handle(.planChanged(grown, config: "v2"))

        let backup = machine.handle(.stateReported(NotifyMessage(instance: "fcp_v4_51", state: .backup, priority: 255)))
        #expect(!backup.contains(.rerender))
        let master = machine.handle(.stateReported(NotifyMessage(instance: "fcp_v4_51", state: .master, priority: 255)))
        #expect(master.last == .rerender)
        #expect(machine.startingAsMaster.isEmpty)
        #expect(machine.startAsMaster(in: grown).isEmpty, "rendered at its usual priority from now on")
    }

    @Test func anInstanceThatLeavesThePlanLeavesTheSet() throws {
        var machine = AgentStateMachine(nodeName: "a")
        _ = machine.handle(.planChanged(try plan([(50, 0)]), config: "v1"))
        let grown = try plan([(50, 0), (51, 0)])
        #expect(machine.startAsMaster(in: grown) == ["fcp_v4_51"])
        _ = machine.handle(.planChanged(grown, config: "v2"))
        #expect(machine.startAsMaster(in: try plan([(50, 0)])).isEmpty)
    }
}
