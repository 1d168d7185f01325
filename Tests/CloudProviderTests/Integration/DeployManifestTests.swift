import CloudProvider
import Foundation
import Keepalived
import TestLab
import TestTraits
import Testing

/// The Deployment must use what the binary accepts, and only the RBAC that deploy/rbac.yaml grants.
@Suite("deploy/ manifests")
struct DeployManifestTests {
    /// Every overlay builds, and every flag its controller and agent get is one the binary accepts with
    /// the value given: the binary is run with exactly those arguments and a kubeconfig that does not
    /// exist, so it gets past flag validation (exit 2) and fails on the kubeconfig (exit 1).
    @Test(arguments: DeployManifests.overlays)
    func overlayArgumentsAreAcceptedByTheBinaries(overlay: String) async throws {
        let rendered = try await DeployManifests.render(overlay)
        for (kind, executable) in [("Deployment", "keepalived-cloud-provider"), ("DaemonSet", "keepalived-vip-agent")] {
            let args = try #require(DeployManifests.arguments(of: kind, in: rendered), "\(overlay) has no \(kind)")
            #expect(!args.isEmpty)
            let binary = try #require(TestEnvironment.builtBinary(executable))
            // The DaemonSet gives the agent NODE_NAME through the downward API.
            let node = executable == "keepalived-vip-agent" ? ["--node-name", "node-1"] : []
            let (status, output) = try await runCommandAsync(
                [binary] + args + node + ["--kubeconfig", "/nonexistent/kubeconfig"])
            #expect(status == 1 && output.contains("/nonexistent/kubeconfig"), "\(overlay) \(executable): \(output)")
        }
        #expect(rendered.contains("serviceAccountName: keepalived-cloud-provider"))
        #expect(rendered.contains("serviceAccountName: keepalived-vip-agent"))
    }

    /// Each overlay's pool is its cidr-examples/ file, entry for entry.
    @Test(arguments: DeployManifests.overlays)
    func overlayPoolsMatchTheCIDRExamples(overlay: String) async throws {
        let rendered = try await DeployManifests.render(overlay)
        let args = try #require(DeployManifests.arguments(of: "Deployment", in: rendered))
        let cidrs = args.filter { $0.hasPrefix("--cidr=") }.map { String($0.dropFirst("--cidr=".count)) }
        let example = try String(
            contentsOfFile: TestEnvironment.repositoryRoot + "/cidr-examples/\(overlay).cidr", encoding: .utf8)
        let entries = example.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        #expect(cidrs == entries)
    }

    /// The guide's clusters may share an L2 segment: their VRID ranges must not overlap.
    @Test func overlayVRIDRangesAreDisjoint() throws {
        let ranges = try DeployManifests.vridRanges().map { try VRIDRange(parsing: $0) }
        #expect(ranges.count == DeployManifests.overlays.count)
        for (i, a) in ranges.enumerated() {
            for b in ranges[(i + 1)...] {
                #expect(a.upper < b.lower || b.upper < a.lower, "\(a) overlaps \(b)")
            }
        }
    }

    /// What an overlay applies: no cluster-admin, nothing privileged, no host PID or IPC, no added
    /// capability but the agent's two, no privilege escalation anywhere.
    @Test(arguments: DeployManifests.overlays)
    func overlaysGrantNothingBroad(overlay: String) async throws {
        let rendered = try await DeployManifests.render(overlay)
        #expect(!rendered.contains("cluster-admin"))
        #expect(
            !rendered.contains("privileged: true") && !rendered.contains("hostPID") && !rendered.contains("hostIPC"))
        #expect(!rendered.contains("SYS_ADMIN") && !rendered.contains("allowPrivilegeEscalation: true"))
        #expect(rendered.components(separatedBy: "allowPrivilegeEscalation: false").count == 3)
        let added = rendered.split(separator: "\n").filter { $0.contains("- NET_") }.map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        // The bgp component adds one: BIRD listens on TCP 179.
        #expect(added == ["- NET_ADMIN", "- NET_RAW"] + (overlay == "dual-mode" ? ["- NET_BIND_SERVICE"] : []))
    }

    @Test(arguments: [
        (["--cidr", "10.210.1.300/26"], "--cidr"),
        (["--cidr", "10.210.1.64/26", "--vrid-range", "0-300"], "1-255"),
        (["--cidr", "10.210.1.64/26", "--vrid-range", "50-51", "--vrrp-groups", "4"], "--vrrp-groups"),
        (["--cidr", "10.210.1.64/26", "--metrics-bind-address", "localhost"], "--metrics-bind-address"),
        (["--cidr", "10.210.1.64/26", "--cluster-name", "Bad Name"], "--cluster-name"),
        (["--cidr", "10.210.1.64/26", "--node-selector", "a b"], "--node-selector"),
        (["--cidr", "10.210.1.64/26", "--log-format", "xml"], "--log-format"),
    ])
    func badFlagsExitTwoWithOneClearLine(arguments: [String], mentions: String) async throws {
        let binary = try #require(ExecutableTests.binary)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("flags-\(UUID()).txt").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let status = try await ChildProcess.spawn([binary] + arguments, outputPath: log).exitStatus()
        let output = try String(contentsOfFile: log, encoding: .utf8)
        #expect(status == 2, "\(arguments): \(output)")
        #expect(output.contains(mentions), "\(output)")
        #expect(output.split(separator: "\n").count == 1, "\(output)")
    }

    /// Both executables answer `--version` with one line and exit 0 (scripts/image stamps it from git).
    @Test(arguments: ["keepalived-cloud-provider", "keepalived-vip-agent"])
    func versionIsOneLine(executable: String) async throws {
        let binary = try #require(TestEnvironment.builtBinary(executable))
        let (status, output) = try await runCommandAsync([binary, "--version"])
        let lines = output.split(separator: "\n")
        #expect(status == 0)
        #expect(lines.count == 1 && lines[0].first?.isNumber == true, "\(lines)")
    }

    /// kube-keepalived-vip runs VRID 50 (keepalived's samples 51): during a migration its DaemonSet and
    /// our agents share the segment, so neither the default range nor any overlay's may contain them.
    @Test func defaultAndOverlayVRIDsStayClearOfThePredecessor() throws {
        let ranges = [ControllerConfiguration.defaultVRIDRange] + (try DeployManifests.vridRanges())
        for text in ranges {
            let range = try VRIDRange(parsing: text)
            #expect(!(range.lower...range.upper).contains(50), "\(text) contains kube-keepalived-vip's VRID 50")
            #expect(!(range.lower...range.upper).contains(51), "\(text) contains keepalived's sample VRID 51")
        }
    }
}

/// What the test reads out of deploy/ (the base and every overlay) without kustomize.
enum DeployManifests {
    static var root: String { TestEnvironment.repositoryRoot + "/deploy" }

    /// Every YAML file under deploy/, as (path relative to deploy/, text).
    static func files() throws -> [(path: String, text: String)] {
        let enumerator = FileManager.default.enumerator(atPath: root)
        var found: [(path: String, text: String)] = []
        while let path = enumerator?.nextObject() as? String {
            guard path.hasSuffix(".yaml") else { continue }
            found.append((path, try String(contentsOfFile: root + "/" + path, encoding: .utf8)))
        }
        return found.sorted { $0.path < $1.path }
    }

    /// The overlays: the guide's three clusters, a dual-stack one, and one with a BGP pool beside VRRP.
    static let overlays = ["fcp", "usa", "chn", "dual-stack", "dual-mode"]

    /// `kubectl kustomize deploy/overlays/NAME`.
    static func render(_ overlay: String) async throws -> String {
        let (status, output) = try await runCommandAsync(["kubectl", "kustomize", root + "/overlays/" + overlay])
        guard status == 0 else { throw TestEnvironmentError(message: "kubectl kustomize \(overlay): \(output)") }
        return output
    }

    /// The `args` list of the first container of the one object of `kind` in a rendered overlay.
    static func arguments(of kind: String, in rendered: String) -> [String]? {
        guard
            let document = rendered.components(separatedBy: "\n---\n").first(where: { $0.contains("\nkind: \(kind)\n") }
            )
        else { return nil }
        var args: [String] = []
        var inside = false
        for line in document.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed == "args:" || trimmed == "- args:" {
                inside = true
            } else if inside, trimmed.hasPrefix("- ") {
                args.append(String(trimmed.dropFirst(2)))
            } else if inside {
                break
            }
        }
        return args
    }

    /// The value of every `--vrid-range=` argument in deploy/.
    static func vridRanges() throws -> [String] {
        try files().flatMap { file in
            file.text.split(separator: "\n").compactMap { line -> String? in
                guard let range = line.range(of: "--vrid-range=") else { return nil }
                return String(line[range.upperBound...]).trimmingCharacters(in: CharacterSet(charactersIn: " \"'}"))
            }
        }
    }
}

/// The real API server accepts every overlay as it would be applied (server-side dry run: admission,
/// schema and RBAC object validation, nothing stored). A control plane of its own: other suites create
/// deploy/'s cluster-scoped objects for real, which a concurrent dry run would race into AlreadyExists.
@Suite("deploy/ overlays against kube-apiserver", .integration, .tags(.integration))
struct DeployApplyTests {
    @Test func everyOverlayIsAcceptedByTheAPIServer() async throws {
        let cluster = try await TestEnvironment.start(prefix: "dryrun")
        let outcome = await Result {
            for overlay in DeployManifests.overlays {
                // The test server (1.20) predates policy/v1 (1.21); v1beta1 has the same minAvailable and selector.
                let rendered = try await DeployManifests.render(overlay).replacingOccurrences(
                    of: "apiVersion: policy/v1\nkind: PodDisruptionBudget",
                    with: "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget")
                let path = FileManager.default.temporaryDirectory.appendingPathComponent("dryrun-\(overlay).yaml").path
                try rendered.write(toFile: path, atomically: true, encoding: .utf8)
                defer { try? FileManager.default.removeItem(atPath: path) }
                let (status, output) = try await runCommandAsync([
                    "kubectl", "--kubeconfig", cluster.adminKubeconfig, "apply", "--dry-run=server", "-f", path,
                ])
                #expect(status == 0, "\(overlay): \(output)")
                for object in [
                    "deployment.apps/keepalived-cloud-provider", "daemonset.apps/keepalived-vip-agent",
                    "customresourcedefinition.apiextensions.k8s.io/vippools.keepalived-lb.io",
                    "poddisruptionbudget.policy/keepalived-cloud-provider",
                ] {
                    #expect(output.contains(object) && output.contains("(server dry run)"), "\(overlay): \(output)")
                }
            }
            // dual-mode's routed half, against the CRDs for real (a dry run cannot serve a kind it only pretends
            // to create): the example pool and routers are valid objects.
            let kubectl = ["kubectl", "--kubeconfig", cluster.adminKubeconfig]
            for resource in ["vippools", "bgppeers"] {
                let (applied, output) = try await runCommandAsync(
                    kubectl + ["apply", "-f", "\(DeployManifests.root)/base/\(resource).yaml"])
                try #require(applied == 0, "\(output)")
                _ = try await runCommandAsync(
                    kubectl + [
                        "wait", "--for=condition=Established", "crd/\(resource).keepalived-lb.io", "--timeout=30s",
                    ])
            }
            let (status, output) = try await runCommandAsync(
                kubectl + ["apply", "--dry-run=server", "-k", "\(DeployManifests.root)/overlays/dual-mode/routing"])
            #expect(status == 0, "dual-mode/routing: \(output)")
            for object in ["vippool.keepalived-lb.io/routed", "bgppeer.keepalived-lb.io/tor-rack-a"] {
                #expect(output.contains(object), "dual-mode/routing: \(output)")
            }
        }
        await cluster.stop()
        try outcome.get()
    }
}
