import CloudProvider
import Foundation
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
import TestLab
import Testing

/// Where a controller test runs: the in-memory API server (milliseconds, every field kept) or the
/// shared kube-apiserver (left out by `scripts/test --unit`).
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case inMemory
    case kubeAPIServer

    var testDescription: String { rawValue }

    /// Both, or only the in-memory server when integration tests are left out.
    static var available: [Backend] {
        ProcessInfo.processInfo.environment["KLB_TEST_UNIT_ONLY"] == "1" ? [.inMemory] : allCases
    }
}

/// A controller scoped to one test namespace (Services and its ConfigMap), on an API server.
struct ControllerHarness {
    /// The real control plane, when the test runs against one.
    let cluster: TestCluster?
    let admin: any KubernetesAPI
    let namespace: String
    /// The in-memory server, when the test runs against it.
    let memory: InMemoryAPIServer?

    static func make(_ backend: Backend = .kubeAPIServer) async throws -> ControllerHarness {
        switch backend {
        case .kubeAPIServer:
            let cluster = try await TestEnvironment.shared()
            let admin = try cluster.adminClient()
            let namespace = try await cluster.makeNamespace(admin, prefix: "lb")
            return ControllerHarness(cluster: cluster, admin: admin, namespace: namespace, memory: nil)
        case .inMemory:
            let memory = InMemoryAPIServer()
            _ = try await memory.create(Namespace(name: "lb-memory"))
            return ControllerHarness(cluster: nil, admin: memory, namespace: "lb-memory", memory: memory)
        }
    }

    /// The real control plane, for tests that need RBAC or the executables.
    var realCluster: TestCluster {
        get throws { try #require(cluster, "this test needs kube-apiserver") }
    }

    func configuration(cidrs: [String] = ["10.210.1.64/26"], forward: String? = nil) throws -> ControllerConfiguration {
        ControllerConfiguration(
            pool: try Pool.parse(cidrs).pool, namespace: namespace, configMapName: "vip-configmap",
            defaultForwardMethod: forward.flatMap { .init(rawValue: $0) }, workers: 2, serviceNamespace: namespace,
            nodeSelector: nodeLabel)
    }

    /// Starts a controller; cancel the returned task to stop it (like SIGTERM would).
    func start(_ configuration: ControllerConfiguration, client: (any KubernetesAPI)? = nil) -> (
        ServiceController, Task<Void, any Error>
    ) {
        let controller = ServiceController(client: client ?? admin, configuration: configuration)
        let task = Task { try await controller.run() }
        return (controller, task)
    }

    func loadBalancer(_ name: String, annotations: [String: String] = [:], build: (inout Service) -> Void = { _ in })
        async throws -> Service
    {
        var service = Service()
        service.metadata = ObjectMeta(name: name, namespace: namespace)
        service.metadata.annotations = annotations
        service.spec.type = .loadBalancer
        service.spec.ports = [ServicePort(name: "http", port: 8080, targetPort: 8080)]
        service.spec.selector = ["app": name]
        build(&service)
        return try await admin.create(service)
    }

    func service(_ name: String) async throws -> Service? {
        do { return try await admin.get(Service.self, namespace: namespace, name: name) } catch {
            if error.code == .notFound { return nil }
            throw error
        }
    }

    func ingress(_ name: String) async throws -> [String] {
        try await service(name)?.status.loadBalancer.ingress.compactMap(\.ip) ?? []
    }

    /// Nodes are cluster-wide; each test sees only the nodes labelled with its namespace.
    var nodeLabel: String { "keepalived-lb.io/test=\(namespace)" }

    /// The kube-keepalived-vip entries of the ConfigMap (the VRRP plan left out).
    func configMapData() async throws -> [String: String] {
        try await rawConfigMapData().filter { $0.key != VRRPPlan.dataKey }
    }

    func plan() async throws -> VRRPPlan? {
        try await rawConfigMapData()[VRRPPlan.dataKey].map { try VRRPPlan(json: $0) }
    }

    func rawConfigMapData() async throws -> [String: String] {
        do { return try await admin.get(ConfigMap.self, namespace: namespace, name: "vip-configmap").data } catch {
            if error.code == .notFound { return [:] }
            throw error
        }
    }

    /// Creates a node labelled for this test; the caller deletes it.
    func node(_ name: String, extraLabels: [String: String] = [:]) async throws {
        var node = Node()
        node.metadata = ObjectMeta(name: "\(namespace)-\(name)")
        node.metadata.labels = extraLabels.merging(["keepalived-lb.io/test": namespace]) { a, _ in a }
        _ = try await admin.create(node)
    }

    func deleteNodes() async throws {
        for node in try await admin.list(Node.self, options: ListOptions(labelSelector: nodeLabel)).items {
            try await admin.delete(Node.self, name: node.metadata.name ?? "")
        }
    }

    func events(for name: String) async throws -> [Event] {
        try await admin.list(Event.self, namespace: namespace).items.filter { $0.involvedObject.name == name }
    }
}
