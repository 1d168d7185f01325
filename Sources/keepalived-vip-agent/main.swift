import AgentCLI
import CommandLineSupport

await CommandMain.run(AgentCommand.self, name: "keepalived-vip-agent")
