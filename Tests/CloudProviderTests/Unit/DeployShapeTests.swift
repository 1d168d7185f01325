import Foundation
import Keepalived
import TestLab
import Testing
import Yams

/// What an operator expects of the shipped objects, read as objects (not text) from each rendered overlay.
@Suite("deploy/ objects")
struct DeployShapeTests {
    typealias Object = [String: Any]

    static func objects(_ overlay: String) async throws -> [Object] {
        try Yams.load_all(yaml: try await DeployManifests.render(overlay)).compactMap { $0 as? Object }
    }

    static func find(_ objects: [Object], _ kind: String, _ name: String) throws -> Object {
        try #require(
            objects.first { $0["kind"] as? String == kind && ($0["metadata"] as? Object)?["name"] as? String == name },
            "no \(kind) \(name)")
    }

    static func value(_ object: Any?, _ path: String) -> Any? {
        path.split(separator: ".").reduce(object) { current, key in
            if let index = Int(key) {
                return (current as? [Any]).flatMap { $0.indices.contains(index) ? $0[index] : nil }
            }
            return (current as? Object)?[String(key)]
        }
    }

    /// The PrometheusRule's `spec`: a plain Prometheus rule file.
    static func alertingRules(_ objects: [Object]) throws -> String {
        try Yams.dump(object: try #require(try find(objects, "PrometheusRule", "keepalived-lb")["spec"]))
    }

    /// The rule file as the monitoring component ships it.
    static func alertingRules() throws -> String {
        let text = try String(
            contentsOfFile: DeployManifests.root + "/components/monitoring/prometheusrule.yaml", encoding: .utf8)
        return try alertingRules(try Yams.load_all(yaml: text).compactMap { $0 as? Object })
    }

    static var release: String {
        (try? String(contentsOfFile: TestEnvironment.repositoryRoot + "/VERSION", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// Overlays add to the base's args: a flag added to the base reaches every cluster.
    @Test(arguments: DeployManifests.overlays)
    func overlaysKeepEveryBaseFlag(overlay: String) async throws {
        let base = try await Self.objects("../base")
        let mine = try await Self.objects(overlay)
        for (kind, name) in [("Deployment", "keepalived-cloud-provider"), ("DaemonSet", "keepalived-vip-agent")] {
            let path = "spec.template.spec.containers.0.args"
            let baseArgs = try #require(Self.value(try Self.find(base, kind, name), path) as? [String])
            let args = try #require(Self.value(try Self.find(mine, kind, name), path) as? [String])
            #expect(args.starts(with: baseArgs), "\(overlay) \(kind): \(args)")
        }
    }

    /// Pods say what they are and which release; the image is that release, never "latest".
    @Test(arguments: DeployManifests.overlays)
    func podsCarryNameComponentVersionAndAReleaseImage(overlay: String) async throws {
        let objects = try await Self.objects(overlay)
        #expect(!Self.release.isEmpty)
        for (kind, name, component) in [
            ("Deployment", "keepalived-cloud-provider", "controller"), ("DaemonSet", "keepalived-vip-agent", "agent"),
        ] {
            let object = try Self.find(objects, kind, name)
            let labels = try #require(Self.value(object, "spec.template.metadata.labels") as? [String: String])
            #expect(labels["app.kubernetes.io/name"] == name)
            #expect(labels["app.kubernetes.io/component"] == component)
            #expect(labels["app.kubernetes.io/version"] == Self.release)
            #expect(labels["app.kubernetes.io/part-of"] == "keepalived-lb")
            let selector = try #require(Self.value(object, "spec.selector.matchLabels") as? [String: String])
            #expect(selector == ["app.kubernetes.io/name": name], "a selector never changes across releases")
            let image = try #require(Self.value(object, "spec.template.spec.containers.0.image") as? String)
            #expect(image.hasSuffix(":" + Self.release), "\(image)")
            #expect(
                (Self.value(object, "spec.template.spec.nodeSelector") as? [String: String])?["kubernetes.io/os"]
                    == "linux")
        }
    }

    /// Two controller replicas preferably apart, and a drain never takes both.
    @Test func theControllerSurvivesADrain() async throws {
        let objects = try await Self.objects("fcp")
        let deployment = try Self.find(objects, "Deployment", "keepalived-cloud-provider")
        let anti = try #require(
            Self.value(
                deployment,
                "spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution.0.podAffinityTerm"
            ) as? Object)
        #expect(anti["topologyKey"] as? String == "kubernetes.io/hostname")
        let budget = try Self.find(objects, "PodDisruptionBudget", "keepalived-cloud-provider")
        #expect(Self.value(budget, "spec.minAvailable") as? Int == 1)
        #expect(
            Self.value(budget, "spec.selector.matchLabels") as? [String: String]
                == Self.value(deployment, "spec.selector.matchLabels") as? [String: String])
    }

    /// The agent's probes reach its health endpoint where it listens: loopback, on the host network.
    @Test func agentProbesMatchItsHealthAddress() async throws {
        let agent = try Self.find(try await Self.objects("fcp"), "DaemonSet", "keepalived-vip-agent")
        let container = try #require(Self.value(agent, "spec.template.spec.containers.0") as? Object)
        let args = container["args"] as? [String] ?? []
        let bind = try #require(args.first { $0.hasPrefix("--health-bind-address=") }?.split(separator: "=").last)
        #expect(bind.hasPrefix("127.0.0.1:"), "\(bind)")
        for probe in ["livenessProbe", "readinessProbe"] {
            let get = try #require(Self.value(container, "\(probe).httpGet") as? Object)
            #expect(get["host"] as? String == "127.0.0.1")
            #expect("127.0.0.1:\(get["port"] as? Int ?? 0)" == String(bind), "\(probe)")
        }
        // A rolling update takes one node at a time and waits out keepalived's preempt delay on each.
        #expect(Self.value(agent, "spec.updateStrategy.rollingUpdate.maxUnavailable") as? Int == 1)
        #expect((Self.value(agent, "spec.minReadySeconds") as? Int ?? 0) > KeepalivedConfig.preemptDelaySeconds)
        let tolerations = Self.value(agent, "spec.template.spec.tolerations") as? [Object] ?? []
        let noExecute = tolerations.filter { $0["effect"] as? String == "NoExecute" }
        #expect(noExecute.allSatisfy { $0["key"] != nil }, "no blanket NoExecute: an operator's taint empties a node")
    }

    /// kubectl get vipp shows readiness; conditions are a map by type; a pool without spec is refused.
    @Test func theVIPPoolResourceFollowsConventions() async throws {
        let crd = try Self.find(
            try await Self.objects("fcp"), "CustomResourceDefinition", "vippools.keepalived-lb.io")
        #expect((Self.value(crd, "spec.names.shortNames") as? [String])?.contains("vipp") == true)
        let version = try #require(Self.value(crd, "spec.versions.0") as? Object)
        let columns = (version["additionalPrinterColumns"] as? [Object] ?? []).compactMap { $0["name"] as? String }
        #expect(columns.starts(with: ["Ready"]), "\(columns)")
        #expect((Self.value(version, "schema.openAPIV3Schema.required") as? [String]) == ["spec"])
        let conditions = try #require(
            Self.value(version, "schema.openAPIV3Schema.properties.status.properties.conditions") as? Object)
        #expect(conditions["x-kubernetes-list-type"] as? String == "map")
        #expect(conditions["x-kubernetes-list-map-keys"] as? [String] == ["type"])
    }

    /// The optional BGP component adds exactly what BGP needs beyond the base: NET_BIND_SERVICE for BIRD's listener
    /// on port 179, and reading Secrets (BGP passwords) in the agents' namespace only.
    @Test func theBGPComponentAddsOnlyTheListenerCapabilityAndSecretReads() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("klb-bgp-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let up = String(repeating: "../", count: directory.standardizedFileURL.pathComponents.count - 1)
        let deploy = up + DeployManifests.root.drop { $0 == "/" }
        try """
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        resources: [\(deploy)/overlays/fcp]
        components: [\(deploy)/components/bgp]
        """.write(to: directory.appendingPathComponent("kustomization.yaml"), atomically: true, encoding: .utf8)
        let (status, rendered) = try await runCommandAsync(["kubectl", "kustomize", directory.path])
        try #require(status == 0, "\(rendered)")
        let objects = try Yams.load_all(yaml: rendered).compactMap { $0 as? Object }
        let agent = try Self.find(objects, "DaemonSet", "keepalived-vip-agent")
        let containers = ((agent["spec"] as? Object)?["template"] as? Object)?["spec"] as? Object
        let container = (containers?["containers"] as? [Object])?.first
        let capabilities = (container?["securityContext"] as? Object)?["capabilities"] as? Object
        #expect(capabilities?["add"] as? [String] == ["NET_ADMIN", "NET_RAW", "NET_BIND_SERVICE"])
        let role = try Self.find(objects, "Role", "keepalived-vip-agent-bgp-passwords")
        #expect((role["metadata"] as? Object)?["namespace"] as? String == "kube-system")
        let rules = role["rules"] as? [Object] ?? []
        #expect(rules.count == 1 && rules.first?["resources"] as? [String] == ["secrets"])
        #expect(rules.first?["verbs"] as? [String] == ["get"])
        _ = try Self.find(objects, "CustomResourceDefinition", "bgppeers.keepalived-lb.io")
    }

    /// The optional monitoring component adds scrape targets and rules to an overlay, and the rules are valid
    /// Prometheus rules whose alerts fire on trouble and stay quiet otherwise (promtool's unit tests).
    @Test func theMonitoringComponentsRulesPassPromtool() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("klb-monitoring-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // kustomize takes only relative paths to other kustomizations.
        let up = String(repeating: "../", count: directory.standardizedFileURL.pathComponents.count - 1)
        let deploy = up + DeployManifests.root.drop { $0 == "/" }
        try """
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        resources: [\(deploy)/overlays/fcp]
        components: [\(deploy)/components/monitoring]
        """.write(to: directory.appendingPathComponent("kustomization.yaml"), atomically: true, encoding: .utf8)
        let (status, rendered) = try await runCommandAsync(["kubectl", "kustomize", directory.path])
        try #require(status == 0, "\(rendered)")
        let objects = try Yams.load_all(yaml: rendered).compactMap { $0 as? Object }
        for (kind, name) in [
            ("Service", "keepalived-cloud-provider-metrics"), ("Service", "keepalived-vip-agent-metrics"),
            ("PodMonitor", "keepalived-cloud-provider"), ("PodMonitor", "keepalived-vip-agent"),
            ("PrometheusRule", "keepalived-lb"),
        ] {
            _ = try Self.find(objects, kind, name)
        }
        try Self.alertingRules(objects).write(
            to: directory.appendingPathComponent("rules.generated.yaml"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(
            atPath: DeployManifests.root + "/components/monitoring/rules-test.yaml",
            toPath: directory.appendingPathComponent("rules-test.yaml").path)
        let promtool = try #require(
            ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "promtool is missing: scripts/test installs Debian's prometheus package")
        let (checked, checkOutput) = try await runCommandAsync(
            [promtool, "check", "rules", directory.appendingPathComponent("rules.generated.yaml").path])
        #expect(checked == 0, "\(checkOutput)")
        let (tested, testOutput) = try await runCommandAsync(
            [promtool, "test", "rules", directory.appendingPathComponent("rules-test.yaml").path])
        #expect(tested == 0, "\(testOutput)")
    }

    /// Every metric the alerts and the dashboard read is one the code exports: a renamed metric would leave an
    /// alert that can never fire and a panel that stays empty.
    @Test func alertsAndDashboardReadOnlyExportedMetrics() throws {
        let monitoring = DeployManifests.root + "/components/monitoring/"
        let text =
            try String(contentsOfFile: monitoring + "prometheusrule.yaml", encoding: .utf8)
            + String(contentsOfFile: monitoring + "dashboard.json", encoding: .utf8)
        let used = Set(Self.metricNames(in: text))
        #expect(used.count >= 12, "\(used.sorted())")
        var exported = ""
        let sources = TestEnvironment.repositoryRoot + "/Sources"
        let files = FileManager.default.enumerator(atPath: sources)
        while let path = files?.nextObject() as? String {
            guard path.hasSuffix(".swift") else { continue }
            exported += try String(contentsOfFile: sources + "/" + path, encoding: .utf8)
        }
        for name in used {
            // A histogram's series add _bucket, _sum and _count to the name the code registers.
            let registered = ["_bucket", "_sum", "_count"].reduce(name) { name, suffix in
                name.hasSuffix(suffix) ? String(name.dropLast(suffix.count)) : name
            }
            #expect(exported.contains("\"\(registered)\""), "\(name) is not a metric the code exports")
        }
        let dashboard = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: monitoring + "dashboard.json")))
        #expect((dashboard as? Object)?["panels"] as? [Any] != nil)
    }

    static func metricNames(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let start = rest.range(of: "keepalived_lb_") {
            let tail = rest[start.lowerBound...]
            let name = tail.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            names.append(String(name))
            rest = tail.dropFirst(name.count)
        }
        return names
    }
}
