import CloudProvider
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
import TestLab

extension AgentLab {
    /// The real controller, in-process, for this lab's namespace and nodes. Returns a stop that
    /// waits for it to end (tear-down stops it too).
    @discardableResult
    func startController(groups: Int = 4, vrids: String = "10-13", cidrs: [String] = ["203.0.113.64/26"]) throws
        -> @Sendable () async -> Void
    {
        let configuration = ControllerConfiguration(
            pool: try Pool.parse(cidrs).pool, namespace: namespace, configMapName: "vip-configmap",
            workers: 2,
            serviceNamespace: namespace,
            planner: try VRRPPlanner(cluster: "lab", vrids: VRIDRange(parsing: vrids), groups: groups),
            nodeSelector: "keepalived-lb.io/test=\(namespace)")
        let controller = ServiceController(client: admin, configuration: configuration)
        let task = Task { try await controller.run() }
        onTearDown.append { task.cancel() }
        return {
            task.cancel()
            _ = await task.result
        }
    }

    /// The node that holds `vip` once nothing moves on its own any more: its instance's preferred
    /// node, after keepalived's preempt delay (a node whose keepalived started first may hold it
    /// for the first five seconds). Waits until it alone holds it, for a second.
    func settledHolder(of vip: String) async throws -> String {
        let address = try IPAddress(vip)
        var preferred: String?
        _ = await InMemoryAPI.eventually(.seconds(20)) {
            // Not there yet is not an error: the controller creates it.
            let text = try? await self.admin.get(ConfigMap.self, namespace: self.namespace, name: "vip-configmap")
                .data[VRRPPlan.dataKey]
            guard let plan = text.flatMap({ try? VRRPPlan(json: $0) }),
                let instance = plan.instances.first(where: { $0.addresses.contains(address) })
            else { return false }
            preferred = self.nodes.first { self.nodeName($0) == plan.nodes[instance.preferred] }
            return preferred != nil
        }
        guard let preferred else { throw TestEnvironmentError(message: "no plan names \(vip)") }
        guard try await InMemoryAPI.eventually(.seconds(30), { try self.holders(vip) == [preferred] }) else {
            // Who holds it instead tells a slow election (nobody, or two) from a wrong one (another node).
            let holding = (try? holders(vip))?.sorted().joined(separator: ", ") ?? "unknown"
            throw TestEnvironmentError(
                message: "\(vip) never settled on its preferred node \(preferred) in 30 s; held by: [\(holding)]\n"
                    + diagnosis(of: [vip], lines: 40) + "\n"
                    + nodes.map { "\($0) keepalived.conf:\n\(keepalivedConfig($0))" }.joined(separator: "\n"))
        }
        try await Task.sleep(for: .seconds(1))
        guard try holders(vip) == [preferred] else {
            throw TestEnvironmentError(message: "\(vip) moved away from its preferred node \(preferred)")
        }
        return preferred
    }

    /// The controller, both agents and echo servers; Service "web" served at 203.0.113.65 by its
    /// settled holder; then the controller stopped, so only what a test does changes the ConfigMap.
    func oneVIPServedThenControllerStopped() async throws -> (vip: String, master: String) {
        let stopController = try startController()
        for node in nodes { try startAgent(node) }
        try startEchoServers()
        try await loadBalancer("web")
        let vip = "203.0.113.65"
        let master = try await settledHolder(of: vip)
        await stopController()
        return (vip, master)
    }
}
