import CommandLineSupport
import OperatorCLI

await CommandMain.run(KeepalivedPlugin.self, name: "kubectl-keepalived")
