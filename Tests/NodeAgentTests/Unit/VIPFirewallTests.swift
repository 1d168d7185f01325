import Foundation
import IPAM
import Keepalived
import NodeAgent
import Testing

/// The VIP filter as text and as the state machine keeps it in step: no nft, no namespaces.
@Suite("VIP firewall (no I/O)")
struct VIPFirewallTests {
    private func plan(_ ports: [String: [String]], extra: [String] = []) throws -> VRRPPlan {
        var published: [IPAddress: [VIPPort]] = [:]
        for (address, list) in ports {
            published[try IPAddress(address)] = try list.map { (text) throws(KeepalivedError) in
                try VIPPort(parsing: text)
            }
        }
        let addresses = Array(published.keys) + (try extra.map { try IPAddress($0) })
        return try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "50-51"), groups: 2)
            .plan(addresses: addresses, nodes: ["a", "b"], placement: Placement(), ports: published).plan
    }

    @Test func onlyPublishedPortsPassAndTheTableIsReplacedWhole() throws {
        let script = VIPFirewall.script(
            for: try plan(["203.0.113.65": ["TCP/80", "UDP/53"], "2001:db8::65": ["SCTP/9000"]]))
        #expect(
            script.hasPrefix("table inet keepalived_lb\ndelete table inet keepalived_lb\ntable inet keepalived_lb {"))
        #expect(script.contains("elements = { 203.0.113.65 . tcp . 80, 203.0.113.65 . udp . 53 }"))
        #expect(script.contains("elements = { 2001:db8::65 . sctp . 9000 }"))
        #expect(script.contains("type filter hook prerouting priority -150; policy accept;"))
        #expect(script.contains("counter drop"))
        #expect(script.contains("icmp type echo-request accept"))
    }

    @Test func aRoutedVIPPassesOnlyItsPortsToo() throws {
        let routed = try IPAddress("198.51.100.10")
        let plan = try VRRPPlan(
            cluster: "fcp", nodes: ["a"], instances: [],
            routes: [
                .init(address: routed, ports: [try VIPPort(parsing: "TCP/443")]),
                .init(address: try IPAddress("198.51.100.11")),
            ])
        let script = VIPFirewall.script(for: plan)
        #expect(script.contains("elements = { 198.51.100.10 }"), "filtered, or kube-proxy's misses are forwarded on")
        #expect(script.contains("elements = { 198.51.100.10 . tcp . 443 }"))
        #expect(!script.contains("198.51.100.11"), "no port list: not filtered, as for held VIPs")
    }

    @Test func aVIPWithoutAPortListIsNotFiltered() throws {
        // A plan written by a controller from before the port lists: nothing of it is dropped.
        let script = VIPFirewall.script(for: try plan([:], extra: ["203.0.113.70"]))
        #expect(!script.contains("203.0.113.70"))
        #expect(!script.contains("elements"))
    }

    @Test func portsTravelThroughThePlanAndAreValidated() throws {
        let original = try plan(["203.0.113.65": ["TCP/80"]])
        #expect(try VRRPPlan(json: original.json()) == original)
        for bad in ["TCP/0", "TCP/65536", "ICMP/1", "TCP/80; drop", "tcp/80", "TCP/"] {
            let text = original.json().replacingOccurrences(of: "\"TCP/80\"", with: "\"\(bad)\"")
            #expect(throws: KeepalivedError.self, "\(bad)") { try VRRPPlan(json: text) }
        }
    }

    @Test func theMachineAppliesTheFilterWhenPortsChangeAndRemovesItOnStop() throws {
        var machine = AgentStateMachine(nodeName: "a", filtersVIPs: true)
        let first = try plan(["203.0.113.65": ["TCP/80"]])
        let started = machine.handle(.planChanged(first, config: "v1"))
        #expect(started.first == .applyFirewall(VIPFirewall.script(for: first)), "filtered before it is held")
        // Only the ports change: keepalived's configuration does not, the filter does.
        let second = try plan(["203.0.113.65": ["TCP/80", "TCP/443"]])
        #expect(machine.handle(.planChanged(second, config: "v1")) == [.applyFirewall(VIPFirewall.script(for: second))])
        #expect(machine.handle(.planChanged(second, config: "v1")).isEmpty, "unchanged: not applied again")
        #expect(machine.handle(.stopRequested).contains(.removeFirewall))
        // Off: never.
        var off = AgentStateMachine(nodeName: "a")
        #expect(
            !off.handle(.planChanged(first, config: "v1")).contains {
                if case .applyFirewall = $0 { true } else { false }
            })
    }
}
