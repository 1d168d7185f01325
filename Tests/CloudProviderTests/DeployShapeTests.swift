import Foundation
import KubeTestSupport
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
}
