import CloudProvider
import IPAM
import Keepalived
import KubeTestSupport

extension AgentLab {
    /// The real controller, in-process, for this lab's namespace and nodes. Returns a stop that
    /// waits for it to end (tear-down stops it too).
    @discardableResult
    func startController(groups: Int = 4) throws -> @Sendable () async -> Void {
        let configuration = ControllerConfiguration(
            pool: try Pool.parse(["203.0.113.64/26"]).pool, namespace: namespace, configMapName: "vip-configmap",
            workers: 2,
            serviceNamespace: namespace,
            planner: try VRRPPlanner(cluster: "lab", vrids: VRIDRange(parsing: "10-13"), groups: groups),
            nodeSelector: "keepalived-lb.io/test=\(namespace)")
        let controller = ServiceController(client: admin, configuration: configuration)
        let task = Task { try await controller.run() }
        onTearDown.append { task.cancel() }
        return {
            task.cancel()
            _ = await task.result
        }
    }
}
