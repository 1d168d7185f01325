import ControllerCLI
import Observability

await CommandMain.run(CloudProviderCommand.self, name: "keepalived-cloud-provider")
