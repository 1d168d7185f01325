import CommandLineSupport
import ControllerCLI

await CommandMain.run(CloudProviderCommand.self, name: "keepalived-cloud-provider")
