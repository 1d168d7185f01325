import Observability

await CommandMain.run(KeepalivedPlugin.self, name: "kubectl-keepalived")
