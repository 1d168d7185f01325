import BGP
import IPAM
import Keepalived
import Testing

/// VIPs of BGP pools in the plan: routes, not instances; every allowed node announces them.
@Suite("VRRP plan: BGP routes")
struct RoutePlanTests {
    let planner = try! VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "50-57"), groups: 4)

    @Test func routedAddressesBecomeRoutesAndUseNoVRID() throws {
        let held = try IPAddress("203.0.113.10")
        let routed = try IPAddress("198.51.100.10")
        let local = try IPAddress("2001:db8:1::10")
        let attributes = VRRPPlanner.RouteAttributes(
            communities: [try BGPCommunity(parsing: "64512:100")], localPreference: 200)
        let (plan, unplaced) = try planner.plan(
            addresses: [held, routed, local], nodes: ["b", "a", "c"],
            placement: Placement(allowedNodes: [local: ["c"]]),
            ports: [routed: [try VIPPort(parsing: "TCP/443")]],
            routed: [routed: attributes, local: VRRPPlanner.RouteAttributes()])
        #expect(unplaced.isEmpty)
        #expect(plan.addresses == [held], "only the VRRP pool's address is held by an instance")
        #expect(plan.routes.map(\.address) == [routed, local])
        #expect(plan.routes(for: "a").map(\.address) == [routed], "a Local route only from its endpoint's node")
        #expect(plan.routes(for: "c").map(\.address) == [routed, local])
        #expect(plan.routes(for: "gone").isEmpty, "a node outside the plan announces nothing")
        #expect(plan.routes(for: "a").first?.localPreference == 200)
        #expect(plan.servedAddresses.count == 3)
        #expect(try VRRPPlan(json: plan.json()) == plan, "the ConfigMap carries it whole")
    }

    @Test func aPlanWithoutRoutesIsByteIdenticalToBefore() throws {
        let plan = try planner.plan(addresses: [try IPAddress("203.0.113.10")], nodes: ["a"])
        #expect(!plan.json().contains("routes"), "older agents read it as before")
    }

    @Test func routesThatContradictThePlanAreRefused() throws {
        let address = try IPAddress("198.51.100.10")
        #expect(throws: KeepalivedError.self) {
            try VRRPPlan(
                cluster: "fcp", nodes: ["a"], instances: [], routes: [.init(address: address, allowedNodes: [3])])
        }
        #expect(throws: KeepalivedError.self) {
            try VRRPPlan(
                cluster: "fcp", nodes: ["a"], instances: [], routes: [.init(address: address), .init(address: address)])
        }
        #expect(throws: KeepalivedError.self) {
            try VRRPPlan(
                cluster: "fcp", nodes: ["a"],
                instances: [.init(vrid: 50, family: .ipv4, preferred: 0, addresses: [address])],
                routes: [.init(address: address)])
        }
        let text =
            #"{"cluster":"fcp","instances":[],"nodes":["a"],"routes":[{"address":"198.51.100.10","communities":["1:2\"; }"]}],"version":1}"#
        #expect(throws: KeepalivedError.self, "a community that is not ASN:VALUE never reaches bird.conf") {
            try VRRPPlan(json: text)
        }
    }
}
