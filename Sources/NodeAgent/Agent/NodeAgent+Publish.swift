import Foundation
import Keepalived
import KubeClient
import Logging

extension NodeAgent {
    /// The node's view, published as a Node annotation (see `NodeVRRPState`).
    func stateDocument() async -> String {
        let running = await supervisor.isRunning
        let instances = machine.tracker.states.mapValues(\.rawValue)
        return NodeVRRPState(
            running: running, instances: instances, vips: machine.heldAddresses, interfaces: interfaces
        ).json()
    }

    func publish() async {
        let document = await stateDocument()
        guard document != lastPublished else { return }
        do {
            _ = try await client.patch(
                Node.self, name: configuration.nodeName,
                .merge(["metadata": ["annotations": [NodeVRRPState.annotation: .string(document)]]]))
            lastPublished = document
        } catch {
            logger.warning("cannot publish the node's VRRP state", metadata: ["error": "\(error)"])
        }
    }
}
