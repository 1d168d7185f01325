import CloudProvider
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
import TestLab
import TestTraits
import Testing

@Suite("VRRP plan in the ConfigMap, against kube-apiserver", .integration, .tags(.integration))
struct VRRPPlanIntegrationTests {
    @Test func planFollowsServicesAndEligibleNodes() async throws {
        let h = try await ControllerHarness.make()
        try await h.node("a")
        try await h.node("b")
        try await h.node("excluded", extraLabels: [ControllerConfiguration.excludeLabel: ""])
        var configuration = try h.configuration()
        configuration.planner = try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "60-63"), groups: 4)
        let (_, task) = h.start(configuration)

        let result: Result<Void, any Error> = await Result(catching: {
            for name in ["one", "two", "three"] { _ = try await h.loadBalancer(name) }
            #expect(
                try await eventually {
                    guard let plan = try await h.plan() else { return false }
                    return Set(plan.instances.flatMap(\.addresses).map(\.description)) == [
                        "10.210.1.65", "10.210.1.66", "10.210.1.67",
                    ]
                })
            let plan = try #require(try await h.plan())
            #expect(plan.cluster == "fcp")
            #expect(plan.nodes == ["\(h.namespace)-a", "\(h.namespace)-b"])
            #expect(plan.instances.allSatisfy { (60...63).contains($0.vrid) && $0.family == .ipv4 })

            // A node joins: the plan names it; a Service goes: its VIP leaves the plan.
            try await h.node("c")
            try await h.admin.delete(Service.self, namespace: h.namespace, name: "two")
            #expect(
                try await eventually {
                    guard let plan = try await h.plan() else { return false }
                    return plan.nodes.count == 3 && plan.instances.flatMap(\.addresses).count == 2
                })
        })
        task.cancel()
        try await h.deleteNodes()
        try result.get()
    }
}
