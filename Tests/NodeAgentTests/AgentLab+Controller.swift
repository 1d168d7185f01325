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

    /// The controller, both agents and echo servers; Service "web" served at 203.0.113.65 by one
    /// node for a second; then the controller stopped, so only what a test does changes the ConfigMap.
    func oneVIPServedThenControllerStopped() async throws -> (vip: String, master: String) {
        let stopController = try startController()
        for node in nodes { try startAgent(node) }
        try startEchoServers()
        try await loadBalancer("web")
        let vip = "203.0.113.65"
        guard try await KubeTestSupport.eventually(.seconds(20), { try self.holders(vip).count == 1 }) else {
            throw TestEnvironmentError(message: "\(vip) was never held by exactly one node")
        }
        try await Task.sleep(for: .seconds(1))
        guard let master = try holders(vip).first else {
            throw TestEnvironmentError(message: "\(vip) is held by no node")
        }
        await stopController()
        return (vip, master)
    }
}
