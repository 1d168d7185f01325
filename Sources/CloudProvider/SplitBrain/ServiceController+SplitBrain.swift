import CoreMetrics
import IPAM
import Keepalived
import KubeClient
import Logging

extension ServiceController {
    /// Reads what every agent says it holds and reports VIPs held by several nodes for longer
    /// than the window: a Warning on the Service, an error log line, the split-brain gauge.
    func checkSplitBrain() async {
        var holders: [String: [IPAddress]] = [:]
        for node in await nodeInformer.list() {
            guard let name = node.metadata.name,
                let state = NodeVRRPState(annotation: node.metadata.annotations[NodeVRRPState.annotation])
            else { continue }
            holders[name] = state.heldAddresses
        }
        for action in splitBrain.observe(holders: holders, now: elapsed()) {
            switch action {
            case .report(let finding):
                let owner = ledger.owner(of: finding.address)
                let nodes = finding.nodes.joined(separator: ", ")
                let message =
                    "VIP \(finding.address) is held by \(finding.nodes.count) nodes at once (\(nodes)) for over "
                    + "\(configuration.splitBrainWindow): they do not hear each other's VRRP adverts, and clients "
                    + "reach "
                    + "whichever answered ARP last. Check the link and any firewall for IP protocol 112 between "
                    + "these nodes"
                logger.error(
                    "split brain",
                    metadata: ["address": "\(finding.address)", "nodes": "\(nodes)", "service": "\(owner ?? "none")"])
                if let owner, let service = await informer.get(owner) {
                    events.post(service.reference, type: .warning, reason: "SplitBrain", message: message)
                }
            case .resolved(let address):
                logger.info("split brain resolved: one node holds the VIP again", metadata: ["address": "\(address)"])
            case .checkAgain(let delay):
                splitBrainCheckQueue.yield(delay)
            }
        }
        metrics.splitBrain.record(splitBrain.reported.count)
    }
}
