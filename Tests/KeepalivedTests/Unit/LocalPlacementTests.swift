import Foundation
import IPAM
import Keepalived
import Testing

@Suite("Local placement")
struct LocalPlacementTests {
    let planner = try! VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "100-107"), groups: 8)
    let nodes = ["node-a", "node-b", "node-c"]
    let cluster = (65..<90).map { try! IPAddress("203.0.113.\($0)") }

    private func instance(of address: IPAddress, in plan: VRRPPlan) -> VRRPPlan.Instance {
        plan.instances.first { $0.addresses.contains(address) }!
    }

    /// The node that leads the instance carrying `address` with no agent reports: its preferred node.
    private func leader(of address: IPAddress, in plan: VRRPPlan) -> String {
        plan.nodes[instance(of: address, in: plan).preferred]
    }

    @Test func aLocalVIPRidesAGroupLedByANodeWithAnEndpoint() throws {
        for node in nodes {
            for (offset, text) in ["198.51.100.7", "198.51.100.8", "2001:db8::7"].enumerated() {
                let local = try IPAddress(text)
                let placement = Placement(allowedNodes: [local: [node]])
                let (plan, unplaced) = try planner.plan(
                    addresses: cluster + [local], nodes: nodes, placement: placement)
                #expect(unplaced.isEmpty, "\(offset)")
                #expect(leader(of: local, in: plan) == node)
                #expect(plan.allowedNodes(of: local) == [node])
                // Only that node's view carries it; the others keep the instance without it.
                for other in nodes {
                    let view = plan.view(for: other)
                    #expect(view.addresses.contains(local) == (other == node))
                    #expect(view.instances.map(\.vrid) == plan.instances.map(\.vrid))
                }
            }
        }
    }

    @Test func clusterVIPsStayInTheirGroupsWhileLocalOnesMove() throws {
        let local = try IPAddress("198.51.100.7")
        let (before, _) = try planner.plan(
            addresses: cluster + [local], nodes: nodes,
            placement: Placement(allowedNodes: [local: ["node-a"]]))
        let (after, _) = try planner.plan(
            addresses: cluster + [local], nodes: nodes,
            placement: Placement(allowedNodes: [local: ["node-c"]], currentGroups: before.groupsByAddress))
        #expect(leader(of: local, in: after) == "node-c")
        let beforeGroups = before.groupsByAddress
        for address in cluster { #expect(after.groupsByAddress[address] == beforeGroups[address]) }
        // Every instance keeps its VRID and preferred node: no election changes.
        let preferred = Dictionary(uniqueKeysWithValues: before.instances.map { ($0.vrid, $0.preferred) })
        for instance in after.instances where preferred[instance.vrid] != nil {
            #expect(instance.preferred == preferred[instance.vrid])
        }
    }

    @Test func aLocalVIPStaysInItsGroupWhileItsLeaderKeepsAnEndpoint() throws {
        let local = try IPAddress("198.51.100.7")
        let (first, _) = try planner.plan(
            addresses: [local], nodes: nodes, placement: Placement(allowedNodes: [local: ["node-b"]]))
        let (second, _) = try planner.plan(
            addresses: [local], nodes: nodes,
            placement: Placement(
                allowedNodes: [local: ["node-a", "node-b", "node-c"]], currentGroups: first.groupsByAddress))
        #expect(second.groupsByAddress[local] == first.groupsByAddress[local])
        #expect(second.allowedNodes(of: local) == ["node-a", "node-b", "node-c"])
    }

    @Test func reportedMastersOverridePreferredNodes() throws {
        let local = try IPAddress("198.51.100.7")
        // Every group node-b prefers is led by node-a now (node-b's keepalived restarting, say), and one group
        // node-a prefers is led by node-b.
        var masters: [String: String] = [:]
        for group in 0..<8 {
            let name = VRRPPlan.instanceName(cluster: "fcp", family: .ipv4, vrid: 100 + group)
            masters[name] = group % 3 == 1 ? "node-a" : "node-c"
        }
        masters[VRRPPlan.instanceName(cluster: "fcp", family: .ipv4, vrid: 100)] = "node-b"
        let (plan, unplaced) = try planner.plan(
            addresses: [local], nodes: nodes,
            placement: Placement(allowedNodes: [local: ["node-b"]], masters: masters))
        #expect(unplaced.isEmpty)
        #expect(plan.groupsByAddress[local] == 100)
    }

    @Test func noEndpointMeansNoNodeHoldsIt() throws {
        let local = try IPAddress("198.51.100.7")
        for endpoints: Set<String> in [[], ["not-eligible"]] {
            let (plan, unplaced) = try planner.plan(
                addresses: cluster + [local], nodes: nodes, placement: Placement(allowedNodes: [local: endpoints])
            )
            #expect(unplaced.isEmpty)
            #expect(plan.addresses.contains(local))
            #expect(plan.allowedNodes(of: local) == [])
            for node in nodes { #expect(!plan.view(for: node).addresses.contains(local)) }
        }
    }

    @Test func endpointsOnNodesLeadingNoGroupAreReported() throws {
        // One group over three nodes: node-b and node-c lead none.
        let small = try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "100-100"), groups: 1)
        let local = try IPAddress("198.51.100.7")
        let (plan, unplaced) = try small.plan(
            addresses: [local], nodes: nodes, placement: Placement(allowedNodes: [local: ["node-b", "node-c"]]))
        #expect(unplaced == [local])
        // It waits in its own group, held only should one of them come to lead it.
        #expect(plan.groupsByAddress[local] == 100 + small.group(of: local))
        #expect(plan.allowedNodes(of: local) == ["node-b", "node-c"])
    }

    /// One endpoint node needs no group to lead: its agent holds the VIP itself (`VRRPPlan.soleAddresses`).
    @Test func oneEndpointNodeIsNeverReportedAsLeadingNoGroup() throws {
        let small = try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "100-101"), groups: 2)
        let local = try IPAddress("198.51.100.7")
        let (plan, unplaced) = try small.plan(
            addresses: [local], nodes: nodes, placement: Placement(allowedNodes: [local: ["node-c"]]))
        #expect(unplaced.isEmpty)
        #expect(plan.soleAddresses(of: "node-c") == [local])
    }

    @Test func allowedNodesRoundTripThroughJSONAndAreValidated() throws {
        let local = try IPAddress("2001:db8::7")
        let (plan, _) = try planner.plan(
            addresses: cluster + [local], nodes: nodes,
            placement: Placement(allowedNodes: [local: ["node-a", "node-c"]]))
        let decoded = try VRRPPlan(json: plan.json())
        #expect(decoded == plan)
        #expect(plan.json().contains("\"allowedNodes\":{\"2001:db8::7\":[0,2]}"))
        // Without Local VIPs the plan's text is what it was before the field existed.
        let plain = try planner.plan(addresses: cluster, nodes: nodes)
        #expect(!plain.json().contains("allowedNodes"))
        // A restriction naming a node outside the plan, or an address the instance does not carry, is refused.
        for bad in ["[0,3]", "[-1]"] {
            let text = plan.json().replacingOccurrences(of: "[0,2]", with: bad)
            #expect(throws: KeepalivedError.self, "\(bad)") { try VRRPPlan(json: text) }
        }
        let stray = plan.json().replacingOccurrences(of: "\"2001:db8::7\":[0,2]", with: "\"2001:db8::99\":[0]")
        #expect(throws: KeepalivedError.self) { try VRRPPlan(json: stray) }
        let garbage = plan.json().replacingOccurrences(of: "\"2001:db8::7\":[0,2]", with: "\"not-an-ip\":[0]")
        #expect(throws: KeepalivedError.self) { try VRRPPlan(json: garbage) }
    }

    @Test func aNodeWithoutEndpointsRendersTheInstanceWithoutTheVIP() throws {
        let local = try IPAddress("198.51.100.7")
        let (plan, _) = try planner.plan(
            addresses: [local], nodes: nodes, placement: Placement(allowedNodes: [local: ["node-b"]]))
        for node in nodes {
            let settings = try NodeSettings(
                nodeName: node, interface: "eth0", sourceAddresses: [], unicastPeers: [])
            let text = KeepalivedConfig.render(plan: plan.view(for: node), node: settings)
            #expect(text.contains("vrrp_instance fcp_v4_"))
            #expect(text.contains("198.51.100.7/32") == (node == "node-b"))
        }
    }
}

@Suite("Pools' interfaces in the plan")
struct PlanInterfaceTests {
    @Test func aPoolsInterfaceReachesKeepalivedValidatedAndOnlyWhereItExists() throws {
        let planner = try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "100-101"), groups: 2)
        let vip = try IPAddress("198.51.100.7")
        let other = try IPAddress("198.51.100.8")
        let (plan, _) = try planner.plan(
            addresses: [vip, other], nodes: ["a", "b"], placement: Placement(), interfaces: [vip: "eth1"])
        #expect(try VRRPPlan(json: plan.json()) == plan)
        let settings = try NodeSettings(nodeName: "a", interface: "eth0", sourceAddresses: [], unicastPeers: [])
        let text = KeepalivedConfig.render(plan: plan.view(for: "a", interfaces: ["eth0", "eth1"]), node: settings)
        #expect(text.contains("198.51.100.7/32 dev eth1"))
        #expect(text.contains("198.51.100.8/32 dev eth0"))
        // A node without the interface leaves that VIP out, and only it.
        let without = plan.view(for: "a", interfaces: ["eth0"])
        #expect(!without.addresses.contains(vip) && without.addresses.contains(other))
        for bad in ["eth/1", "eth1;", String(repeating: "e", count: 300), "", ".."] {
            let text = plan.json().replacingOccurrences(of: "\"eth1\"", with: "\"\(bad)\"")
            #expect(throws: KeepalivedError.self, "\(bad.prefix(20))") { try VRRPPlan(json: text) }
        }
    }
}
