import Foundation
import InMemoryAPI
import KubeClient
import TestLab
import Testing

/// `externalTrafficPolicy: Local` through a real kube-proxy: kube-proxy drops such traffic on a node without a
/// local endpoint, so the VIP must sit on a node with one, follow the endpoints, and leave the other VIPs alone.
extension AgentFailoverTests {
    @Test func aLocalServicesVIPFollowsItsEndpointsThroughKubeProxy() async throws {
        let lab = try await AgentLab(nodeCount: 3)
        let outcome = await Result(catching: {
            try await lab.startKubeProxies()
            try lab.startController(groups: 4, vrids: "10-13")
            for node in lab.nodes { try lab.startAgent(node) }
            let steadyPod = try lab.startPod("steady", on: "n1")
            let onN2 = try lab.startPod("local2", on: "n2")
            let onN3 = try lab.startPod("local3", on: "n3")
            try await lab.loadBalancer("steady", local: false)
            try await lab.setEndpoints("steady", [(steadyPod, "n1", true)])
            try await lab.loadBalancer("local", local: true)
            try await lab.setEndpoints("local", [(onN2, "n2", true)])
            let steady = try await lab.awaitIngress("steady")
            let local = try await lab.awaitIngress("local")

            // The pod on n2 answers, and sees the client's own address (kube-proxy's Local path).
            #expect(try await eventually(.seconds(20)) { lab.ask(local) == "local2/192.0.2.100" })
            #expect(try lab.holders(local) == ["n2"])
            #expect(try await eventually(.seconds(20)) { lab.ask(steady)?.hasPrefix("steady/") == true })

            // The endpoint moves to n3: the VIP follows, the Cluster Service keeps answering throughout.
            let output = lab.stateRoot + "/probe-steady.out"
            let probe = try lab.startProbe(steady, seconds: 6, output: output)
            try await Task.sleep(for: .milliseconds(500))
            let moved = ContinuousClock.now
            try await lab.setEndpoints("local", [(onN3, "n3", true)])
            #expect(try await eventually(.seconds(10)) { lab.ask(local) == "local3/192.0.2.100" })
            let took = ContinuousClock.now - moved
            #expect(took < .seconds(3), "the VIP followed its endpoint after \(took)")
            #expect(try await eventually(.seconds(5)) { try lab.holders(local) == ["n3"] })

            // Not ready any more: no node holds it (kube-proxy would drop its traffic on every node).
            try await lab.setEndpoints("local", [(onN3, "n3", false)])
            #expect(try await eventually(.seconds(10)) { try lab.holders(local).isEmpty })
            // (kube-proxy matches LB addresses in PREROUTING on any node: until it drops the not-ready endpoint, the
            // client's cached ARP entry still finds the pod on n3.)
            #expect(try await eventually(.seconds(10)) { lab.ask(local) == nil })
            // Ready again on n2 and n3: held by one of them.
            try await lab.setEndpoints("local", [(onN2, "n2", true), (onN3, "n3", true)])
            #expect(try await eventually(.seconds(10)) { try ["n2", "n3"].contains(lab.holders(local).first ?? "") })

            #expect(await probe.exitStatus() == 0)
            let parts = try String(contentsOfFile: output, encoding: .utf8).split(separator: " ")
            #expect(parts.count >= 3 && Int(parts[1]) == 0, "the Cluster Service's VIP had a gap: \(parts)")
            #expect((Int(parts.first ?? "") ?? 0) > 100, "probe: \(parts)")
            let events = try await lab.admin.list(Event.self, namespace: lab.namespace).items
            #expect(
                events.contains { $0.reason == "LocalEndpointsUnserved" && $0.involvedObject.name == "local" },
                "a Local Service without endpoints is told so")
        })
        await lab.tearDown()
        try outcome.get()
    }

    /// The same through a dual-stack kube-proxy (iptables and ip6tables): a `RequireDualStack` Local Service's
    /// IPv4 and IPv6 VIPs are held only where its endpoint is, both follow it, and the pod sees the client's own
    /// address in each family; a dual-stack Cluster Service answers in both families throughout; neither family's
    /// VIP reaches the node's own listener.
    @Test func aDualStackLocalServicesVIPsFollowTheirEndpointsThroughKubeProxy() async throws {
        let cluster = try await TestEnvironment.start(prefix: "dual", dualStack: true)
        let outcome = await Result(catching: {
            let lab = try await AgentLab(nodeCount: 3, ipv6: true, cluster: cluster)
            let inner = await Result(catching: { try await Self.followInBothFamilies(lab) })
            await lab.tearDown()
            try inner.get()
        })
        await cluster.stop()
        try outcome.get()
    }

    private static func followInBothFamilies(_ lab: AgentLab) async throws {
        try await lab.startKubeProxies()
        try lab.startController(groups: 4, vrids: "10-13", cidrs: ["203.0.113.64/26", "2001:db8:1::/120"])
        for node in lab.nodes {
            try lab.startAgent(node)
            try lab.startNodeListener(on: node, port: 10250)
        }
        let steadyPod = try lab.startPod("steady", on: "n1")
        let onN2 = try lab.startPod("local2", on: "n2")
        let onN3 = try lab.startPod("local3", on: "n3")
        try await lab.loadBalancer("steady", local: false, dualStack: true)
        try await lab.setEndpoints("steady", [(steadyPod, "n1", true)])
        try await lab.setEndpoints("steady", [(lab.podAddress6(on: "n1"), "n1", true)])
        try await lab.loadBalancer("local", local: true, dualStack: true)
        try await lab.setEndpoints("local", [(onN2, "n2", true)])
        try await lab.setEndpoints("local", [(lab.podAddress6(on: "n2"), "n2", true)])
        let steady = try await lab.awaitIngresses("steady", count: 2)
        let local = try await lab.awaitIngresses("local", count: 2)
        let clientAddress = { (vip: String) in vip.contains(":") ? "2001:db8::100" : "192.0.2.100" }
        #expect(local.filter { $0.contains(":") }.count == 1, "one address per family: \(local)")

        for vip in local {
            #expect(
                try await eventually(.seconds(20)) { lab.ask(vip) == "local2/\(clientAddress(vip))" },
                "\(vip) answers from the pod on n2, which sees the client: \(lab.ask(vip) ?? "no answer")")
            #expect(try lab.holders(vip) == ["n2"])
        }
        // The node's own listener answers on its IPv6 address, never through a VIP of either family.
        #expect(lab.ask("2001:db8::12", port: 10250) == "n2:10250")
        for vip in local { #expect(lab.ask(vip, port: 10250) == nil, "\(vip) reached the node's own listener") }
        for vip in steady {
            #expect(try await eventually(.seconds(20)) { lab.ask(vip)?.hasPrefix("steady/") == true }, "\(vip)")
        }

        // Both endpoints move to n3: both VIPs follow, the Cluster Service keeps answering in both families.
        let probes = try steady.enumerated().map { index, vip in
            let output = lab.stateRoot + "/probe-steady-\(index).out"
            return (output, try lab.startProbe(vip, seconds: 6, output: output))
        }
        try await Task.sleep(for: .milliseconds(500))
        try await lab.setEndpoints("local", [(onN3, "n3", true)])
        try await lab.setEndpoints("local", [(lab.podAddress6(on: "n3"), "n3", true)])
        for vip in local {
            #expect(
                try await eventually(.seconds(10)) { lab.ask(vip) == "local3/\(clientAddress(vip))" },
                "\(vip) followed to n3: \(lab.ask(vip) ?? "no answer")")
            #expect(try await eventually(.seconds(5)) { try lab.holders(vip) == ["n3"] }, "\(vip)")
        }
        for (output, probe) in probes {
            #expect(await probe.exitStatus() == 0)
            let parts = try String(contentsOfFile: output, encoding: .utf8).split(separator: " ")
            #expect(parts.count >= 3 && Int(parts[1]) == 0, "a Cluster VIP had a gap: \(parts)")
            #expect((Int(parts.first ?? "") ?? 0) > 100, "probe: \(parts)")
        }
    }
}
