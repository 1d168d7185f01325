import IPAM
import Keepalived
import NodeAgent
import Testing

/// Which form the adverts take, agreed with the other nodes' agents, and what an operator hears about it.
@Suite("Advert form (no I/O)")
struct AdvertsAgreementTests {
    @Test func aChangeOfFormIsSaidOnceAndRestrictedVIPsUnderListedAdvertsAreWarned() throws {
        var machine = AgentStateMachine(nodeName: "a")
        let local = try IPAddress("203.0.113.7")
        let plain = try VRRPPlan(
            cluster: "fcp", nodes: ["a", "b"],
            instances: [.init(vrid: 50, family: .ipv4, preferred: 0, addresses: [try IPAddress("203.0.113.5")])])
        let restricted = try VRRPPlan(
            cluster: "fcp", nodes: ["a", "b"],
            instances: [.init(vrid: 50, family: .ipv4, preferred: 0, addresses: [local], allowedNodes: [local: [1]])])
        #expect(machine.adverts == .token)
        #expect(machine.advertsAgreed(.token, for: plain).isEmpty, "the default: nothing to say")
        #expect(machine.advertsAgreed(.vips, for: plain) == [.changed(.vips)], "an older agent joined")
        #expect(machine.advertsAgreed(.vips, for: plain).isEmpty, "said once")
        #expect(machine.advertsAgreed(.vips, for: restricted) == [.restrictedVIPsFollowMastership])
        #expect(machine.adverts == .vips)
        #expect(machine.advertsAgreed(.token, for: restricted) == [.changed(.token)], "the last one upgraded")
    }
}
