import IPAM
import Keepalived
import Testing

@Suite("VRRP plan")
struct PlanTests {
    let planner = try! VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "50-57"), groups: 4)

    @Test func vridRangesAreValidated() throws {
        #expect(try VRIDRange(parsing: "50-59").count == 10)
        #expect(try VRIDRange(parsing: "7").description == "7")
        for bad in ["0-5", "250-256", "9-3", "a-b", "", "1-2-3", "-4"] {
            #expect(throws: KeepalivedError.self, "\(bad)") { try VRIDRange(parsing: bad) }
        }
        #expect(throws: KeepalivedError.self) { try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(50, 52), groups: 4) }
    }

    @Test func vipsSpreadOverBoundedGroupsAndNodes() throws {
        let addresses = (65..<127).map { try! IPAddress("10.210.1.\($0)") }
        let plan = try planner.plan(addresses: addresses, nodes: ["node-c", "node-a", "node-b"])
        #expect(plan.nodes == ["node-a", "node-b", "node-c"])
        #expect(plan.instances.count == 4)
        #expect(Set(plan.instances.map(\.vrid)) == [50, 51, 52, 53])
        #expect(plan.instances.flatMap(\.addresses).count == addresses.count)
        // Every group is reasonably filled and the preferred nodes rotate.
        #expect(plan.instances.allSatisfy { $0.addresses.count >= 8 })
        #expect(Set(plan.instances.map(\.preferred)) == [0, 1, 2])
        // Every node ranks once per instance, the preferred node first.
        for instance in plan.instances {
            let ranks = plan.nodes.map { plan.rank(of: $0, in: instance)! }
            #expect(ranks.sorted() == [0, 1, 2])
            #expect(plan.rank(of: plan.nodes[instance.preferred], in: instance) == 0)
        }
        #expect(plan.rank(of: "not-eligible", in: plan.instances[0]) == nil)
    }

    @Test func addingOneVIPTouchesOneInstance() throws {
        let base = (65..<100).map { try! IPAddress("10.210.1.\($0)") }
        let before = try planner.plan(addresses: base, nodes: ["a", "b"])
        let after = try planner.plan(addresses: base + [IPAddress("10.210.1.100")], nodes: ["a", "b"])
        let changed = Set(after.instances).subtracting(before.instances)
        #expect(changed.count == 1)
        #expect(changed.first!.addresses.contains(try IPAddress("10.210.1.100")))
    }

    @Test func familiesGetTheirOwnInstances() throws {
        let plan = try planner.plan(addresses: [IPAddress("198.51.100.10"), IPAddress("2001:db8::10")], nodes: ["a"])
        #expect(Set(plan.instances.map(\.family)) == [.ipv4, .ipv6])
        #expect(plan.instances.allSatisfy { $0.addresses.count == 1 })
    }

    @Test func planRoundTripsThroughJSONAndRejectsTampering() throws {
        let plan = try planner.plan(
            addresses: [IPAddress("10.210.1.65"), IPAddress("2001:db8::5")], nodes: ["node-a", "node-b"])
        let reparsed = try VRRPPlan(json: plan.json())
        #expect(reparsed == plan)
        #expect(plan.json() == reparsed.json())
        let tampered = [
            #"{"version":1,"cluster":"fcp","nodes":["a"],"instances":[{"vrid":300,"family":"IPv4","preferred":0,"addresses":["10.0.0.1"]}]}"#,
            #"{"version":1,"cluster":"fcp","nodes":["a\n}"],"instances":[]}"#,
            #"{"version":1,"cluster":"fcp","nodes":["a"],"instances":[{"vrid":5,"family":"IPv4","preferred":0,"addresses":["10.0.0.1/32 dev lo\n}"]}]}"#,
            #"{"version":1,"cluster":"fcp","nodes":["a"],"instances":[{"vrid":5,"family":"IPv4","preferred":3,"addresses":["10.0.0.1"]}]}"#,
            #"{"version":1,"cluster":"fcp","nodes":["a"],"instances":[{"vrid":5,"family":"IPv4","preferred":0,"addresses":["2001:db8::1"]}]}"#,
            #"{"version":2,"cluster":"fcp","nodes":[],"instances":[]}"#,
            #"{"version":1,"cluster":"Fcp }","nodes":[],"instances":[]}"#,
            "not json",
        ]
        for text in tampered {
            #expect(throws: KeepalivedError.self, "\(text)") { try VRRPPlan(json: text) }
        }
    }
}
