import Foundation
import InMemoryAPI
import KubeClient
import NodeAgent
import TestLab
import Testing

/// Bad ConfigMap content and bad Node objects against the real agents: each row is refused, the
/// previous plan is kept (and counted), and the VIP stays answered throughout.
extension AgentFailoverTests {
    static let badPlans: [(name: String, value: String)] = [
        ("junk", "not json at all"),
        (
            "injection",
            #"{"version":1,"cluster":"lab","nodes":["a"],"instances":[{"vrid":10,"family":"IPv4","preferred":0,"addresses":["203.0.113.65 }\nvrrp_instance evil {"]}]}"#
        ),
        ("unknown version", #"{"version":9,"cluster":"lab","nodes":[],"instances":[]}"#),
        (
            "duplicate vrid",
            #"{"version":1,"cluster":"lab","nodes":["a"],"instances":[{"vrid":10,"family":"IPv4","preferred":0,"addresses":["203.0.113.65"]},{"vrid":10,"family":"IPv4","preferred":0,"addresses":["203.0.113.66"]}]}"#
        ),
        ("oversized", "[" + String(repeating: "1,", count: 300_000) + "1]"),
        ("empty string", ""),
    ]

    @Test func badPlanContentIsRefusedAndTheVIPStaysAnswered() async throws {
        let lab = try await AgentLab()
        let outcome = await Result(catching: {
            let (vip, master) = try await lab.oneVIPServedThenControllerStopped()

            let output = lab.stateRoot + "/probe-bad-plans.out"
            let probe = try lab.startProbe(vip, seconds: Double(Self.badPlans.count) * 1.2 + 1.5, output: output)
            for row in Self.badPlans {
                var configMap = try await lab.admin.get(ConfigMap.self, namespace: lab.namespace, name: "vip-configmap")
                configMap.data["keepalived-lb.vrrp-plan"] = row.value
                _ = try await lab.admin.update(configMap)
                try await Task.sleep(for: .milliseconds(1200))
                #expect(try lab.holders(vip).contains(master), "\(row.name): the VIP stays where it was")
            }
            #expect(await probe.exitStatus() == 0)
            let parts = try String(contentsOfFile: output, encoding: .utf8).split(separator: " ")
            #expect(parts.count == 3 && parts[1] == "0" && (Int(parts[0]) ?? 0) > 100, "\(vip) went dark: \(parts)")
            for node in lab.nodes {
                let config = try String(contentsOfFile: lab.stateDirectory(node) + "/keepalived.conf", encoding: .utf8)
                #expect(
                    !config.contains("evil") && config.contains(vip), "\(node): keepalived.conf is the last good plan")
                let kept = lab.metrics(node).split(separator: "\n").first {
                    $0.hasPrefix("keepalived_lb_agent_plan_kept_total ")
                }
                #expect(
                    kept.flatMap { Int($0.split(separator: " ").last ?? "") }.map { $0 >= Self.badPlans.count } == true,
                    "\(node) counted every refused plan: \(kept ?? "missing")")
            }
        })
        await lab.tearDown()
        try outcome.get()
    }

    /// Node objects are written by kubelets (or anyone with node rights): an unparsable or hostile
    /// InternalIP on a peer never reaches keepalived.conf, and the VIP keeps being served.
    @Test func garbageNodeAddressesNeverReachKeepalived() async throws {
        let lab = try await AgentLab()
        let outcome = await Result(catching: {
            try lab.startController()
            for node in lab.nodes { try lab.startAgent(node) }
            try await lab.loadBalancer("web")
            let vip = "203.0.113.65"
            #expect(try await eventually { try lab.holders(vip).count == 1 })
            // n1 has the plan and its peer: n2 alone can hold the VIP before n1's agent has rendered it (a CI run
            // read n1's keepalived.conf with no instance yet, under a slow API server).
            #expect(await eventually(.seconds(20)) { lab.keepalivedConfig("n1").contains("192.0.2.12") })
            let hostile = [
                "192.0.2.13\n}\nvrrp_instance evil {", "999.1.1.1", "", "2001:db8::zz",
                String(repeating: "1", count: 5000),
            ]
            _ = try await lab.admin.patch(
                Node.self, name: lab.nodeName("n2"),
                .merge([
                    "status": [
                        "addresses": .array(
                            [["type": "InternalIP", "address": "192.0.2.12"]]
                                + hostile.map { ["type": "InternalIP", "address": .string($0)] }
                                + [["type": "Hostname", "address": "x}{"]])
                    ]
                ]),
                subresource: "status")
            try await Task.sleep(for: .seconds(2))
            let config = lab.keepalivedConfig("n1")
            #expect(
                !config.contains("evil") && !config.contains("999.1.1.1") && !config.contains("zz")
                    && !config.contains("x}{"))
            #expect(config.contains("192.0.2.12"), "the valid peer address is still used")
            #expect(try lab.holders(vip).count == 1)
        })
        await lab.tearDown()
        try outcome.get()
    }
}
