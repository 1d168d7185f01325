public import ArgumentParser
import Keepalived
import KubeClient

/// `kubectl keepalived render NODE`: the keepalived.conf that node's agent renders from the plan now.
public struct RenderCommand: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Print the keepalived.conf NODE gets from the current VRRP plan.",
        discussion: "Uses the agent's renderer with NODE's and its peers' InternalIPs. Give the agent's own "
            + "--interface, --unicast and --advert-interval-ms for an exact copy (the agent finds its interface "
            + "on the node itself)."
    )

    @Argument(help: "The Node's name.")
    var node: String

    @OptionGroup var cluster: ClusterOptions

    @Option(help: "The agent's --interface.")
    var interface = "eth0"

    @Flag(help: "The agent's --unicast.")
    var unicast = false

    @Option(help: "The agent's --advert-interval-ms.")
    var advertIntervalMs = 200

    @Option(help: "The agent's --state-dir (where its notify FIFO lives).")
    var stateDir = "/run/keepalived-vip-agent"

    public func run() async throws {
        let key = try cluster.configMapKey()
        let (configMap, nodes) = try await cluster.withClient { client in
            (
                try await client.get(ConfigMap.self, namespace: key.namespace, name: key.name),
                try await client.listAll(Node.self).items
            )
        }
        guard let text = configMap.data[VRRPPlan.dataKey] else {
            throw ValidationError("ConfigMap \(key.namespace)/\(key.name) has no VRRP plan (key \(VRRPPlan.dataKey))")
        }
        let plan: VRRPPlan
        do { plan = try VRRPPlan(json: text) } catch { throw ValidationError(error.message) }
        do {
            print(
                try NodeRendering.render(
                    plan: plan, node: node, nodes: nodes, interface: interface,
                    unicast: unicast, advertIntervalMilliseconds: advertIntervalMs, stateDirectory: stateDir),
                terminator: "")
        } catch let failure as NodeRendering.Failure {
            throw ValidationError(failure.message)
        }
    }
}
