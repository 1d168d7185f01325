import AgentCLI
import CommandLineSupport
import ControllerCLI
import OperatorCLI

// Runs the command this binary is invoked as (by a link's name, or `keepalived-lb NAME ARGS…`).
let names = ["keepalived-cloud-provider", "keepalived-vip-agent", "kubectl-keepalived"]
var arguments = Array(CommandLine.arguments.dropFirst())
var invoked = String(CommandLine.arguments.first?.split(separator: "/").last ?? "")
if !names.contains(invoked), let first = arguments.first, names.contains(first) {
    invoked = first
    arguments.removeFirst()
}
switch invoked {
case "keepalived-cloud-provider": await CommandMain.run(CloudProviderCommand.self, name: invoked, arguments: arguments)
case "keepalived-vip-agent": await CommandMain.run(AgentCommand.self, name: invoked, arguments: arguments)
case "kubectl-keepalived": await CommandMain.run(KeepalivedPlugin.self, name: invoked, arguments: arguments)
default:
    CommandMain.usage(
        "keepalived-lb: run as one of \(names.joined(separator: ", ")) (a link to this binary), "
            + "or as keepalived-lb NAME ARGS…")
}
