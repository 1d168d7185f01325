public import ArgumentParser
import Observability

/// `kubectl keepalived`: what an operator asks of keepalived-lb, as a kubectl plugin (on PATH as
/// `kubectl-keepalived`).
public struct KeepalivedPlugin: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "kubectl-keepalived",
        abstract:
            "Inspect keepalived-lb: pools, VIPs and their nodes; check settings; render a node's keepalived.conf.",
        version: BuildInfo.version,
        subcommands: [StatusCommand.self, CheckConfigCommand.self, RenderCommand.self]
    )
}

/// `-o table|json`, as kubectl spells it.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case json
}
