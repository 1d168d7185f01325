public import ArgumentParser
import KubeClient

/// `kubectl keepalived status`: pools, and every LoadBalancer Service with its address, VRRP
/// instance and the node that announces it now; split brain and unserved Services flagged.
public struct StatusCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Pools (size, used, free) and every LoadBalancer Service with its VIP, instance, VRID and node.",
        discussion: "Exits 0 when every Service is served by exactly one node, 3 when any is unserved or in split "
            + "brain (for scripts and alerts)."
    )

    @OptionGroup var cluster: ClusterOptions

    @Option(name: .shortAndLong, help: "Output format: table or json.")
    var output: OutputFormat = .table

    public func run() async throws {
        let key = try cluster.configMapKey()
        let report = try await cluster.withClient { client in
            let configMap: ConfigMap?
            do {
                configMap = try await client.get(ConfigMap.self, namespace: key.namespace, name: key.name)
            } catch let error as KubeError where error.code == .notFound {
                configMap = nil
            }
            async let services = client.listAll(Service.self)
            async let nodes = client.listAll(Node.self)
            return StatusReport(
                configMapKey: "\(key.namespace)/\(key.name)", configMap: configMap,
                services: try await services.items, nodes: try await nodes.items)
        }
        switch output {
        case .table: print(report.text, terminator: "")
        case .json: try printJSON(report)
        }
        if report.unserved > 0 || report.splitBrain > 0 { throw ExitCode(3) }
    }
}
