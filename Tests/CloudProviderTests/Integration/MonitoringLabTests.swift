import Foundation
import InMemoryAPI
import KubeClient
import TestLab
import TestTraits
import Testing

/// The shipped alerting rules, loaded into a real Prometheus (Debian's) that scrapes the lab's controller and
/// agents: a split brain made in the lab fires KeepalivedLBSplitBrain, and healing it resolves it.
@Suite("Alerts fired for real (Prometheus scraping the lab)", .integration, .tags(.integration))
struct MonitoringLabTests {
    @Test func aSplitBrainFiresItsAlert() async throws {
        let lab = try await AgentLab()
        let outcome = await Result { try await Self.splitBrain(lab) }
        await lab.tearDown()
        try outcome.get()
    }

    static func splitBrain(_ lab: AgentLab) async throws {
        let controllerBinary = try #require(TestEnvironment.builtBinary("keepalived-cloud-provider"))
        let prometheusBinary = try #require(
            ["/usr/bin/prometheus"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "prometheus is missing: scripts/test installs Debian's prometheus package")
        let controllerPort = LocalHTTP.freePort()
        try FileManager.default.createDirectory(atPath: lab.stateRoot, withIntermediateDirectories: true)
        let controller = try ChildProcess.spawn(
            [
                controllerBinary, "--kubeconfig", lab.cluster.adminKubeconfig, "--cidr", "203.0.113.64/26",
                "--namespace", lab.namespace, "--watch-namespace", lab.namespace, "--cluster-name", "lab",
                "--node-selector", "keepalived-lb.io/test=\(lab.namespace)", "--vrid-range", "10-13",
                "--vrrp-groups", "4", "--leader-elect", "false",
                "--metrics-bind-address", "127.0.0.1:\(controllerPort)", "--health-bind-address", "0",
            ], outputPath: lab.stateRoot + "/controller.log")
        lab.onTearDown.append { await controller.stop(grace: .seconds(5)) }
        for node in lab.nodes { try lab.startAgent(node) }

        // Prometheus: every second, the controller and both agents; the shipped rules.
        let directory = lab.stateRoot + "/prometheus"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try DeployShapeTests.alertingRules().write(toFile: directory + "/rules.yaml", atomically: true, encoding: .utf8)
        let agents = lab.nodes.map { "'127.0.0.1:\(lab.metricsPorts[$0] ?? 0)'" }.joined(separator: ", ")
        try """
        global: {scrape_interval: 1s, evaluation_interval: 1s}
        rule_files: [rules.yaml]
        scrape_configs:
          - job_name: controller
            static_configs: [{targets: ['127.0.0.1:\(controllerPort)']}]
          - job_name: agent
            static_configs: [{targets: [\(agents)]}]
        """.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        let webPort = LocalHTTP.freePort()
        let prometheus = try ChildProcess.spawn(
            [
                prometheusBinary, "--config.file=\(directory)/prometheus.yml",
                "--storage.tsdb.path=\(directory)/data", "--web.listen-address=127.0.0.1:\(webPort)",
            ], outputPath: directory + "/prometheus.log")
        lab.onTearDown.append { await prometheus.stop(grace: .seconds(5)) }
        func alert(_ name: String) -> String? {
            guard let body = LocalHTTP.get(port: webPort, path: "/api/v1/alerts")?.body,
                let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                let alerts = (object["data"] as? [String: Any])?["alerts"] as? [[String: Any]]
            else { return nil }
            let named = alerts.first { ($0["labels"] as? [String: Any])?["alertname"] as? String == name }
            return named.map { $0["state"] as? String ?? "" } ?? "inactive"
        }

        try await lab.loadBalancer("web")
        let vip = "203.0.113.65"
        // The first election, while every suite of the run starts beside this one: CI once needed more than 30 s.
        #expect(
            try await eventually(.seconds(60)) { try lab.holders(vip).count == 1 },
            "\(lab.diagnosis(of: [vip], lines: 40))")
        #expect(await eventually(.seconds(30)) { alert("KeepalivedLBSplitBrain") == "inactive" }, "quiet while healthy")
        try await Task.sleep(for: .seconds(3))
        #expect(alert("KeepalivedLBSplitBrain") == "inactive")

        // Adverts sent nowhere (a neighbour entry with a MAC nobody has): both nodes become MASTER.
        let peers = ["n1": "192.0.2.12", "n2": "192.0.2.11"]
        for node in lab.nodes {
            try mustRun([
                "ip", "-n", lab.netns(node), "neigh", "replace", peers[node]!, "lladdr", "02:00:00:00:00:01",
                "dev", "eth0", "nud", "permanent",
            ])
        }
        #expect(
            try await eventually(.seconds(10)) { try lab.holders(vip).count == 2 },
            "both nodes became MASTER: \(lab.diagnosis(of: [vip], lines: 40))")
        let fired = ContinuousClock.now
        #expect(
            await eventually(.seconds(60)) { alert("KeepalivedLBSplitBrain") == "firing" },
            "the alert fires (3 s split-brain window, then its 10 s 'for')")
        print("split brain → KeepalivedLBSplitBrain firing after \(ContinuousClock.now - fired)")
        for node in lab.nodes {
            try mustRun(["ip", "-n", lab.netns(node), "neigh", "del", peers[node]!, "dev", "eth0"])
        }
        #expect(try await eventually(.seconds(10)) { try lab.holders(vip).count == 1 })
        #expect(await eventually(.seconds(60)) { alert("KeepalivedLBSplitBrain") == "inactive" }, "and resolves")
    }
}
