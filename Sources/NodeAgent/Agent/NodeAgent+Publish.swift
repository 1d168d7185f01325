import Foundation
import KubeClient

extension NodeAgent {
    /// The node's view, published as a Node annotation so `kubectl describe node` shows it:
    /// `{"keepalived":"running","instances":{"fcp_v4_50":"MASTER"},"vips":["203.0.113.65"]}`.
    func stateDocument() async -> String {
        let running = await supervisor.isRunning
        let instances = machine.tracker.states.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value.rawValue)\"" }.joined(separator: ",")
        let vips = machine.heldAddresses.map { "\"\($0)\"" }.joined(separator: ",")
        return "{\"keepalived\":\"\(running ? "running" : "stopped")\",\"instances\":{\(instances)},\"vips\":[\(vips)]}"
    }

    func publish() async {
        let document = await stateDocument()
        guard document != lastPublished else { return }
        do {
            _ = try await client.patch(Node.self, name: configuration.nodeName,
                                       .merge(["metadata": ["annotations": [AgentConfiguration.stateAnnotation: .string(document)]]]))
            lastPublished = document
        } catch {
            logger.warning("cannot publish the node's VRRP state", metadata: ["error": "\(error)"])
        }
    }
}
