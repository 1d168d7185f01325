import CoreMetrics
import Foundation
import Logging
import ProcessSupervision

extension NodeAgent {
    /// Runs `nft -f` on the script (in the node's namespace when the agent manages one). A failure is logged and
    /// counted and leaves the previous filter in place (nft applies a script whole or not at all).
    func installFirewall(_ script: String, what: String) async {
        guard let nft = configuration.nftPath else { return }
        let path = configuration.stateDirectory + "/vip-firewall.nft"
        let log = configuration.stateDirectory + "/nft.log"
        do {
            try write(script, to: path)
            try? FileManager.default.removeItem(atPath: log)
            let command =
                (configuration.networkNamespace.map { ["ip", "netns", "exec", $0] } ?? []) + [nft, "-f", path]
            let status = try await ChildProcess.spawn(command, outputPath: log).exitStatus()
            guard status == 0 else {
                let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw AgentError(.firewallFailed, "nft exited with \(status): \(output.suffix(400))")
            }
            logger.debug("VIP firewall \(what)d", metadata: ["table": "inet \(VIPFirewall.table)"])
        } catch {
            metrics.firewallErrors.increment()
            logger.error(
                "cannot \(what) the VIP firewall; VIPs may reach other ports of this node",
                metadata: [
                    "error": "\(error)",
                    "fix": "install nftables (nft) in the agent's image, or run with --no-vip-firewall",
                ])
        }
    }
}
