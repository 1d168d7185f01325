import ArgumentParser
import ControllerOptions
import Foundation
import KubeClient

/// How to reach the cluster, as kubectl: --kubeconfig, else $KUBECONFIG (its first file), else
/// ~/.kube/config, else the in-cluster service account; --context as kubectl's.
struct ClusterOptions: ParsableArguments {
    @Option(help: "Path to a kubeconfig. Default: $KUBECONFIG, ~/.kube/config, then the in-cluster service account.")
    var kubeconfig: String?

    @Option(help: "Context of the kubeconfig to use. Default: its current-context.")
    var context: String?

    @OptionGroup(title: "VIP ConfigMap (where the controller writes)")
    var configMap: ConfigMapOptions

    /// Runs `body` with a client and shuts the client down afterwards, also when `body` throws.
    func withClient<T>(_ body: (KubernetesClient) async throws -> T) async throws -> T {
        let client = try client()
        do {
            let result = try await body(client)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func client() throws -> KubernetesClient {
        let environment = ProcessInfo.processInfo.environment
        let home = environment["HOME"].map { $0 + "/.kube/config" }
        let path =
            kubeconfig
            ?? environment["KUBECONFIG"]?.split(separator: ":").first.map(String.init)
            ?? home.flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }
        let configuration =
            try path.map { path throws(KubeError) in try KubeConfig.load(path: path, context: context) }
            ?? ClientConfiguration.inCluster()
        return try KubernetesClient(configuration: configuration)
    }

    func configMapKey() throws -> (namespace: String, name: String) {
        let environment = ProcessInfo.processInfo.environment
        return (
            try configMap.resolvedNamespace(environment: environment),
            try configMap.resolvedName(environment: environment)
        )
    }
}

/// Pretty, key-sorted JSON for `-o json`.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
