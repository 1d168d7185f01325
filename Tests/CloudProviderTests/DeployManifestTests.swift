import Foundation
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
}
