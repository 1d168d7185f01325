import CloudProvider
import Foundation
import Keepalived
import KubeTestSupport
import Testing

/// The Deployment must use what the binary accepts, and only the RBAC that deploy/rbac.yaml grants.
@Suite("deploy/ manifests")
struct DeployManifestTests {
    @Test func controllerArgumentsAreAcceptedFlags() async throws {
        let binary = try #require(ExecutableTests.binary)
        let manifest = try String(
            contentsOfFile: TestEnvironment.repositoryRoot + "/deploy/controller.yaml", encoding: .utf8)
        let args = manifest.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            $0.hasPrefix("- --")
        }.map { String($0.dropFirst(2)) }
        #expect(!args.isEmpty)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("help-\(UUID()).txt").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let status = try await ChildProcess.spawn([binary, "--help"], outputPath: log).exitStatus()
        #expect(status == 0)
        let help = try String(contentsOfFile: log, encoding: .utf8)
        for arg in args {
            let flag = String(arg.split(separator: "=").first ?? "")
            #expect(help.contains(flag + " "), "\(flag) is not a flag of keepalived-cloud-provider")
        }
        #expect(manifest.contains("serviceAccountName: keepalived-cloud-provider"))
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
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("version-\(UUID()).txt").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let status = try await ChildProcess.spawn([binary, "--version"], outputPath: log).exitStatus()
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
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

    /// The value of every `--vrid-range=` argument in deploy/.
    static func vridRanges() throws -> [String] {
        try files().flatMap { file in
            file.text.split(separator: "\n").compactMap { line -> String? in
                guard let range = line.range(of: "--vrid-range=") else { return nil }
                return String(line[range.upperBound...]).trimmingCharacters(in: CharacterSet(charactersIn: " \"'"))
            }
        }
    }
}
