import AgentCLI
import Observability

await CommandMain.run(AgentCommand.self, name: "keepalived-vip-agent")
