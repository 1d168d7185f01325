import CloudProvider
import Foundation
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
import Testing

/// What only the in-memory server can show: fields the v1.20 test server drops (`spec.loadBalancerClass`,
/// `status.loadBalancer.ingress[].ipMode`) and faults injected into single requests.
@Suite("Service controller on the in-memory API server")
struct InMemoryControllerTests {
    private func classed(_ h: ControllerHarness, _ name: String, class className: String?) async throws {
        _ = try await h.loadBalancer(name) { $0.spec.loadBalancerClass = className }
    }

    @Test func withoutTheFlagServicesOfAnotherClassAreLeftAlone() async throws {
        let h = try await ControllerHarness.make(.inMemory)
        let (_, task) = h.start(try h.configuration())
        defer { task.cancel() }
        try await classed(h, "theirs", class: "example.com/other-lb")
        try await classed(h, "ours", class: nil)
        #expect(try await eventually { try await h.ingress("ours") == ["10.210.1.65"] })
        // The Service of another class was seen before ours (the queue is ordered) and left untouched.
        let theirs = try #require(try await h.service("theirs"))
        #expect(theirs.spec.loadBalancerClass == "example.com/other-lb", "the server kept the field")
        #expect(theirs.metadata.finalizers.isEmpty && theirs.status.loadBalancer.ingress.isEmpty)
        #expect(theirs.status.conditions.isEmpty)
        #expect(try await h.events(for: "theirs").isEmpty)
        #expect(try await h.configMapData() == ["10.210.1.65": "\(h.namespace)/ours"])
    }

    @Test func withTheFlagOnlyThatClassIsServed() async throws {
        let h = try await ControllerHarness.make(.inMemory)
        var configuration = try h.configuration()
        configuration.loadBalancerClass = "keepalived-lb.io/vrrp"
        let (_, task) = h.start(configuration)
        defer { task.cancel() }
        try await classed(h, "classless", class: nil)
        try await classed(h, "other", class: "example.com/other-lb")
        try await classed(h, "ours", class: "keepalived-lb.io/vrrp")
        #expect(try await eventually { try await h.ingress("ours") == ["10.210.1.65"] })
        for name in ["classless", "other"] {
            let service = try #require(try await h.service(name))
            #expect(service.metadata.finalizers.isEmpty && service.status.loadBalancer.ingress.isEmpty, "\(name)")
        }
        #expect(try await h.configMapData() == ["10.210.1.65": "\(h.namespace)/ours"])
    }

    @Test func statusSaysTheAddressIsAVIP() async throws {
        let h = try await ControllerHarness.make(.inMemory)
        let (_, task) = h.start(try h.configuration())
        defer { task.cancel() }
        _ = try await h.loadBalancer("web")
        #expect(try await eventually { try await h.ingress("web") == ["10.210.1.65"] })
        let ingress = try #require(try await h.service("web")?.status.loadBalancer.ingress.first)
        #expect(ingress.ipMode == .vip, "kube-proxy ≥ 1.29 reads ipMode; VIP keeps its in-node shortcut")
    }

    /// A 409 on the status write, a 500 on the ConfigMap write: each is retried, nothing is written twice,
    /// and a Service that did not change keeps its address throughout.
    @Test func failedWritesAreRetriedAndHarmNoOtherService() async throws {
        let h = try await ControllerHarness.make(.inMemory)
        let memory = try #require(h.memory)
        let (controller, task) = h.start(try h.configuration())
        defer { task.cancel() }
        _ = try await h.loadBalancer("steady")
        #expect(try await eventually { try await h.ingress("steady") == ["10.210.1.65"] })

        memory.failNext(.patchStatus, Service.self, with: KubeError(.conflict, "injected 409", httpStatus: 409))
        memory.failNext(.update, ConfigMap.self, with: KubeError(.server, "injected 500", httpStatus: 500))
        _ = try await h.loadBalancer("unlucky")
        #expect(try await eventually { try await h.ingress("unlucky") == ["10.210.1.66"] })
        #expect(try await h.ingress("steady") == ["10.210.1.65"])
        #expect(
            try await h.configMapData() == [
                "10.210.1.65": "\(h.namespace)/steady", "10.210.1.66": "\(h.namespace)/unlucky",
            ])
        #expect(await controller.statusWrites == 2, "one successful status write per Service")
        #expect(
            try await eventually {
                try await h.events(for: "unlucky").contains { $0.reason == "SyncLoadBalancerFailed" }
            })
    }

    /// Watches expire (etcd compaction, an API server restart) while a Service is deleted: the relist
    /// synthesises the deletion, the address is released, the other Service is untouched.
    @Test func aDeletionMissedDuringA410IsStillReleased() async throws {
        let h = try await ControllerHarness.make(.inMemory)
        let memory = try #require(h.memory)
        let (controller, task) = h.start(try h.configuration())
        defer { task.cancel() }
        _ = try await h.loadBalancer("stays")
        _ = try await h.loadBalancer("goes")
        // Both served (status and finalizer written), so the deletion waits for the controller.
        #expect(
            try await eventually {
                let served = try await (h.ingress("stays").count, h.ingress("goes").count)
                return served == (1, 1)
            })
        let stays = try await h.ingress("stays")
        memory.expireWatches()
        try await h.admin.delete(Service.self, namespace: h.namespace, name: "goes")
        #expect(try await eventually { try await h.service("goes") == nil })
        #expect(try await eventually { try await h.configMapData().keys.sorted() == stays })
        #expect(try await h.ingress("stays") == stays)
        #expect(await controller.usage(.ipv4).used == 1)
    }

    /// Someone edits the ConfigMap after our write lands and before its answer arrives; the edit's event is
    /// handled while the write is still in flight. A repair that joined that write (which predates the edit)
    /// repaired nothing and left the intruder in the ConfigMap.
    @Test func anEditBetweenOurWriteAndItsAnswerIsUndone() async throws {
        let h = try await ControllerHarness.make(.inMemory)
        let memory = try #require(h.memory)
        let (_, task) = h.start(try h.configuration())
        defer { task.cancel() }
        _ = try await h.loadBalancer("first")
        #expect(try await eventually { try await h.configMapData() == ["10.210.1.65": "\(h.namespace)/first"] })
        let (admin, namespace) = (h.admin, h.namespace)
        memory.afterNext(.update, ConfigMap.self) {
            guard var edited = try? await admin.get(ConfigMap.self, namespace: namespace, name: "vip-configmap")
            else { return }
            edited.data["10.210.1.99"] = "\(namespace)/intruder"
            _ = try? await admin.update(edited)
            // The answer to our write is late: the controller sees the edit first.
            try? await Task.sleep(for: .milliseconds(200))
        }
        _ = try await h.loadBalancer("second")
        #expect(
            try await eventually {
                try await h.configMapData() == [
                    "10.210.1.65": "\(namespace)/first", "10.210.1.66": "\(namespace)/second",
                ]
            })
    }

    /// A node joining owes a plan write that no Service waits for. When that write failed, nothing tried it
    /// again until the next change, and the agents kept a plan without the node.
    @Test func aPlanWriteThatFailsIsWrittenAgainAfterABackoff() async throws {
        let h = try await ControllerHarness.make(.inMemory)
        let memory = try #require(h.memory)
        try await h.node("n1")
        let (_, task) = h.start(try h.configuration())
        defer { task.cancel() }
        _ = try await h.loadBalancer("web")
        #expect(try await eventually { try await h.plan()?.nodes.count == 1 })
        memory.failNext(.update, ConfigMap.self, with: KubeError(.server, "etcdserver: request timed out"), times: 2)
        try await h.node("n2")
        #expect(try await eventually(.seconds(10)) { try await h.plan()?.nodes.count == 2 })
        #expect(try await h.configMapData() == ["10.210.1.65": "\(h.namespace)/web"], "the VIP untouched")
    }
}
