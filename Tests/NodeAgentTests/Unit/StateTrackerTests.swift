import IPAM
import Keepalived
import NodeAgent
import Testing

@Suite("Notify messages and the VRRP state tracker (no I/O)")
struct StateTrackerTests {
    @Test func notifyLinesParse() {
        #expect(
            NotifyMessage(line: #"INSTANCE "fcp_v4_50" MASTER 200"#)
                == NotifyMessage(instance: "fcp_v4_50", state: .master, priority: 200))
        #expect(NotifyMessage(line: #"INSTANCE "x" BACKUP"#)?.priority == nil)
        #expect(NotifyMessage(line: #"GROUP "g" MASTER"#) == nil)
        #expect(NotifyMessage(line: #"INSTANCE x MASTER 1"#) == nil)
        #expect(NotifyMessage(line: #"INSTANCE "x" SLEEPING 1"#) == nil)
        #expect(NotifyMessage(line: "") == nil)
    }

    @Test func trackerKnowsWhatItHoldsAndForgetsEverythingWhenKeepalivedDies() throws {
        let plan = try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "50-53"), groups: 4)
            .plan(
                addresses: ["203.0.113.65", "203.0.113.66", "203.0.113.67"].map { try IPAddress($0) },
                nodes: ["a", "b"])
        var tracker = VRRPStateTracker()
        let first = plan.instances[0]
        let name = plan.instanceName(first)
        let changed1 = tracker.apply(NotifyMessage(instance: name, state: .backup, priority: 199))
        #expect(changed1)
        #expect(tracker.held(in: plan).isEmpty)
        let changed2 = tracker.apply(NotifyMessage(instance: name, state: .master, priority: 199))
        #expect(changed2)
        let changed3 = tracker.apply(NotifyMessage(instance: name, state: .master, priority: 199))
        #expect(!changed3, "a repeat is no transition")
        #expect(tracker.held(in: plan) == first.addresses)
        #expect(tracker.transitions[name] == 2)
        let action = tracker.keepalivedExited()
        #expect(action == .removeAll)
        #expect(tracker.held(in: plan).isEmpty)
        tracker.apply(NotifyMessage(instance: name, state: .master, priority: 199))
        tracker.apply(NotifyMessage(instance: name, state: .deleted, priority: nil))
        #expect(tracker.states[name] == nil)
    }
}
