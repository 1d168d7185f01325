import CoreMetrics
import KubeClient
import Logging

extension ServiceController {
    /// Watches every Node (only name, taints and providerID are kept) and initialises those that
    /// carry the `uninitialized` taint. Runs in the leader only, like the rest of the controller.
    func initializeNodes() async {
        let informer = Informer<Node>(
            client: client, logger: logger, storage: .packed,
            transform: { node in
                var kept = node.keepingMetadataOnly()
                kept.metadata.uid = node.metadata.uid
                kept.spec.taints = node.spec.taints
                kept.spec.providerID = node.spec.providerID
                return kept
            }, clock: clock)
        await informer.run { event in
            switch event {
            case .added(let node), .updated(_, let node):
                guard let initialization = NodeInitialization(node: node, cluster: self.configuration.clusterName)
                else { return }
                await self.initialize(initialization, reference: node.reference)
            case .deleted, .synced: break
            }
        }
    }

    private func initialize(_ initialization: NodeInitialization, reference: ObjectReference) async {
        do {
            _ = try await client.patch(Node.self, name: initialization.node, initialization.patch)
        } catch {
            // A conflict means the node changed meanwhile: its watch event decides again.
            guard error.code != .conflict else { return }
            logger.warning(
                "could not initialise node; retrying on its next change",
                metadata: ["node": "\(initialization.node)", "error": "\(error.message)"])
            return
        }
        metrics.nodesInitialized.increment()
        let provider = initialization.providerID.map { "; providerID set to \($0)" } ?? ""
        logger.info("node initialised", metadata: ["node": "\(initialization.node)"])
        await events.record(
            reference, type: .normal, reason: "NodeInitialized",
            message: "removed the taint \(NodeInitialization.taintKey)\(provider)")
    }
}
