import CloudProvider
import Foundation
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
import OperatorCLI
import TestLab
import TestTraits
import Testing

/// `kubectl-keepalived` against a real kube-apiserver, with the real controller writing the ConfigMap.
@Suite("kubectl-keepalived against kube-apiserver", .integration, .tags(.integration))
struct PluginTests {
    static func run(_ arguments: [String], kubeconfig: String? = nil) async throws -> (status: Int32, output: String) {
        let binary = try #require(TestEnvironment.builtBinary("kubectl-keepalived"), "build kubectl-keepalived first")
        return try await runCommandAsync([binary] + arguments + (kubeconfig.map { ["--kubeconfig", $0] } ?? []))
    }

    static func annotate(_ admin: KubernetesClient, node: String, holding vips: [IPAddress]) async throws {
        let state = NodeVRRPState(running: true, instances: [:], vips: vips)
        _ = try await admin.patch(
            Node.self, name: node,
            .merge(["metadata": ["annotations": [NodeVRRPState.annotation: .string(state.json())]]]))
    }

    @Test func statusRenderAndSplitBrainOnARealCluster() async throws {
        let cluster = try await TestEnvironment.start(prefix: "plugin")
        let outcome = await Result {
            let admin = try cluster.adminClient()
            for (name, address) in [("node-a", "192.0.2.11"), ("node-b", "192.0.2.12")] {
                var node = Node()
                node.metadata = ObjectMeta(name: name)
                _ = try await admin.create(node)
                _ = try await admin.patch(
                    Node.self, name: name,
                    .merge(["status": ["addresses": [["type": "InternalIP", "address": .string(address)]]]]),
                    subresource: "status")
            }
            let configuration = ControllerConfiguration(
                pool: try Pool.parse(name: "lab", ["192.0.2.64/26"]).pool, clusterName: "lab",
                planner: try VRRPPlanner(cluster: "lab", vrids: VRIDRange(100, 107), groups: 8))
            let controller = ServiceController(client: admin, configuration: configuration)
            let task = Task { try await controller.run() }
            defer { task.cancel() }

            var service = Service()
            service.metadata = ObjectMeta(name: "web", namespace: "default")
            service.spec.type = .loadBalancer
            service.spec.ports = [ServicePort(name: "http", port: 80, targetPort: 8080)]
            _ = try await admin.create(service)
            var address: IPAddress?
            #expect(
                try await eventually {
                    let ip = try await admin.get(Service.self, namespace: "default", name: "web").status.loadBalancer
                        .ingress.first?.ip
                    address = ip.flatMap { try? IPAddress($0) }
                    return address != nil
                })
            let vip = try #require(address)

            // Nobody holds it yet: unserved, exit 3.
            let unserved = try await Self.run(["status"], kubeconfig: cluster.adminKubeconfig)
            #expect(unserved.status == 3 && unserved.output.contains("held by no node"), "\(unserved.output)")

            try await Self.annotate(admin, node: "node-a", holding: [vip])
            let served = try await Self.run(["status", "-o", "json"], kubeconfig: cluster.adminKubeconfig)
            #expect(served.status == 0, "\(served.output)")
            let report = try JSONDecoder().decode(StatusReport.self, from: Data(served.output.utf8))
            let row = try #require(report.services.first { $0.name == "web" })
            #expect(row.addresses == [vip.description] && row.pool == "lab" && row.announcedBy == ["node-a"])
            #expect(row.problems.isEmpty && row.instance?.hasPrefix("lab_v4_") == true)
            let pool = try #require(report.pools.first)
            #expect(pool.size == "62" && pool.used == 1 && pool.free == "61")

            try await Self.annotate(admin, node: "node-b", holding: [vip])
            let split = try await Self.run(["status"], kubeconfig: cluster.adminKubeconfig)
            #expect(
                split.status == 3 && split.output.contains("split brain: \(vip) on node-a,node-b"), "\(split.output)")

            let rendered = try await Self.run(["render", "node-a", "--unicast"], kubeconfig: cluster.adminKubeconfig)
            let vrid = try #require(row.vrid)
            #expect(rendered.status == 0, "\(rendered.output)")
            #expect(
                rendered.output.contains("virtual_router_id \(vrid)") && rendered.output.contains("192.0.2.12")
                    && rendered.output.contains(vip.description), "\(rendered.output)")
            let missing = try await Self.run(["render", "node-z"], kubeconfig: cluster.adminKubeconfig)
            #expect(
                missing.status == 2 && missing.output.contains("node \"node-z\" does not exist"), "\(missing.output)")
        }
        await cluster.stop()
        try outcome.get()
    }

    @Test func checkConfigExitsTwoWithTheReasonAndZeroWithThePlan() async throws {
        let good = try await Self.run(["check-config", "--cidr", "10.210.1.64/26", "--cluster-name", "fcp"])
        #expect(good.status == 0 && good.output.contains("fcp_v4_100") && good.output.contains("62"), "\(good.output)")
        let bad = try await Self.run([
            "check-config", "--cidr", "10.210.1.64/26", "--vrrp-groups", "9", "--vrid-range", "1-8",
        ])
        #expect(bad.status == 2 && bad.output.contains("--vrrp-groups"), "\(bad.output)")
        let none = try await Self.run(["check-config"])
        #expect(none.status == 2 && none.output.contains("no address pool"), "\(none.output)")
    }
}
