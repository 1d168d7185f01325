import CloudProvider
import Foundation
import InMemoryAPI
import Keepalived
import KubeClient
import Testing

/// The VIP ConfigMap holds every VIP of the cluster in one object the API server caps at 1 MiB of data.
@Suite("VIP ConfigMap capacity")
struct ConfigMapCapacityTests {
    static func size(_ data: [String: String]) -> Int {
        data.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
    }

    /// At the limit the new Service gives way: every VIP already written stays, a change to a served Service
    /// still lands, the new one is told why (and the ConfigMap gets a Warning), and it is served as soon as a
    /// deletion makes room.
    @Test(arguments: Backend.available) func aFullConfigMapKeepsEveryVIPAndSaysWhy(_ backend: Backend) async throws {
        let h = try await ControllerHarness.make(backend)
        var (_, task) = h.start(try h.configuration())
        for name in ["a", "b"] { _ = try await h.loadBalancer(name) }
        // Both written and both told: the restarted controller below must not be the one to patch their status.
        #expect(
            try await eventually {
                let written = try await h.configMapData().count
                let told = try await h.ingress("a").count + h.ingress("b").count
                return written == 2 && told == 2
            })
        task.cancel()
        _ = await task.result
        let full = Self.size(try await h.rawConfigMapData())

        // Room for what is there and not one Service more.
        var configuration = try h.configuration()
        configuration.configMapLimit = full + 8
        (_, task) = h.start(configuration)
        defer { task.cancel() }
        let before = try await h.configMapData()
        _ = try await h.loadBalancer("c")
        #expect(
            try await eventually {
                try await h.events(for: "c").contains {
                    $0.reason == "SyncLoadBalancerFailed" && $0.message?.contains("over the limit") == true
                }
            }, "the waiting Service is told why")
        #expect(
            try await eventually {
                try await h.events(for: "vip-configmap").contains {
                    $0.reason == "ConfigMapFull" && $0.type == "Warning"
                }
            })
        #expect(try await h.configMapData() == before, "every VIP already written stays")
        // A change of a served Service that fits (3 bytes: ":DR") is written while the new one waits.
        let addressOfB = try #require(try await h.ingress("b").first)
        _ = try await h.admin.patch(
            Service.self, namespace: h.namespace, name: "b",
            .merge(["metadata": ["annotations": [ForwardMethod.annotation: "DR"]]]))
        #expect(
            try await eventually { try await h.configMapData()[addressOfB] == "\(h.namespace)/b:DR" },
            "a served Service's change lands although a new one does not fit")
        #expect(try await h.ingress("c").isEmpty)
        #expect(try await h.ingress("a").count == 1)
        #expect(try await h.ingress("b").count == 1)

        try await h.admin.delete(Service.self, namespace: h.namespace, name: "a")
        #expect(try await eventually(.seconds(30)) { try await h.ingress("c").count == 1 }, "served once there is room")
    }

    /// What one Service costs in the ConfigMap (its data entry, its address in the plan, its ports), so the
    /// runbook can say how many fit: printed, and held under a bound a format change would break.
    @Test func oneServiceCostsAFewHundredBytes() async throws {
        let h = try await ControllerHarness.make(.inMemory)
        let (_, task) = h.start(try h.configuration(cidrs: ["10.210.0.0/22"]))
        defer { task.cancel() }
        _ = try await h.loadBalancer("baseline")
        #expect(try await eventually { try await h.configMapData().count == 1 })
        let start = Self.size(try await h.rawConfigMapData())
        let count = 400
        for index in 0..<count {
            _ = try await h.loadBalancer("frontend-api-\(String(format: "%04d", index))") {
                $0.spec.ports = [ServicePort(name: "https", port: 443, targetPort: 8443)]
            }
        }
        #expect(try await eventually(.seconds(60)) { try await h.configMapData().count == count + 1 })
        let perService = Double(Self.size(try await h.rawConfigMapData()) - start) / Double(count)
        let fits = Int(Double(ConfigMapFull.defaultLimit) / perService)
        print(
            "VIP ConfigMap: \(String(format: "%.1f", perService)) bytes per Service (namespace of \(h.namespace.count) "
                + "and name of 17 characters, one port): about \(fits) Services in 1 MiB")
        #expect(perService < 250, "a Service costs \(perService) bytes")
    }
}
