import CloudProvider
import Foundation
import IPAM
import InMemoryAPI
import KubeClient
import TestLab
import TestTraits
import Testing

@Suite("Node initialisation (no I/O)")
struct NodeInitializationTests {
    static func node(taints: [Taint], providerID: String? = nil) -> Node {
        var node = Node()
        node.metadata = ObjectMeta(name: "node-1")
        node.metadata.resourceVersion = "42"
        node.spec.taints = taints
        node.spec.providerID = providerID
        return node
    }

    @Test func theTaintGoesOtherTaintsStayAndAProviderIDIsSetOnlyWhenMissing() throws {
        let other = Taint(key: "dedicated", value: "lb", effect: "NoSchedule")
        let ours = Taint(key: NodeInitialization.taintKey, value: "true", effect: "NoSchedule")
        let fresh = try #require(NodeInitialization(node: Self.node(taints: [other, ours]), cluster: "fcp"))
        #expect(fresh.remainingTaints.map(\.key) == ["dedicated"])
        #expect(fresh.providerID == "keepalived-lb://fcp/node-1")
        guard case .merge(let body) = fresh.patch else {
            Issue.record("not a merge patch")
            return
        }
        let metadata = body.objectValue?["metadata"]?.objectValue
        #expect(metadata?["resourceVersion"]?.stringValue == "42", "guarded by the resourceVersion")
        let named = try #require(
            NodeInitialization(node: Self.node(taints: [ours], providerID: "metal://rack-3/n1"), cluster: "fcp"))
        #expect(named.providerID == nil && named.remainingTaints.isEmpty)
        #expect(NodeInitialization(node: Self.node(taints: [other]), cluster: "fcp") == nil, "nothing to do")
    }
}

/// Against a real kube-apiserver, with a control plane of its own (other suites' controllers would
/// initialise these nodes too), under deploy/'s least-privilege role.
@Suite("Node initialisation against kube-apiserver", .serialized, .integration, .tags(.integration))
struct NodeInitializationIntegrationTests {
    static func makeNode(_ admin: KubernetesClient, _ name: String, taints: [Taint]) async throws {
        var node = Node()
        node.metadata = ObjectMeta(name: name)
        node.spec.taints = taints
        _ = try await admin.create(node)
        _ = try await admin.patch(
            Node.self, name: name,
            .merge(["status": ["addresses": [["type": "InternalIP", "address": "192.0.2.21"]]]]), subresource: "status")
    }

    static func run(initializeNodes: Bool, check: (TestCluster, KubernetesClient) async throws -> Void) async throws {
        let cluster = try await TestEnvironment.start(prefix: "nodeinit")
        let admin = try cluster.adminClient()
        let outcome = await Result {
            try await cluster.bindDeployRole(
                "keepalived-cloud-provider", to: "klb-controller", namespace: "kube-system")
            let uninitialized = Taint(key: NodeInitialization.taintKey, value: "true", effect: "NoSchedule")
            let other = Taint(key: "dedicated", value: "lb", effect: "NoExecute")
            try await makeNode(admin, "tainted", taints: [other, uninitialized])
            try await makeNode(admin, "plain", taints: [])
            var configuration = ControllerConfiguration(
                pool: try Pool.parse(["192.0.2.64/26"]).pool, clusterName: "lab", workers: 1)
            configuration.initializeNodes = initializeNodes
            let controller = ServiceController(client: try cluster.controllerClient(), configuration: configuration)
            let task = Task { try await controller.run() }
            defer { task.cancel() }
            try await check(cluster, admin)
        }
        await cluster.stop()
        try outcome.get()
    }

    @Test func aTaintedNodeIsInitialisedAndNothingElseChanges() async throws {
        try await Self.run(initializeNodes: true) { _, admin in
            #expect(
                try await eventually {
                    try await !admin.get(Node.self, name: "tainted").spec.taints.contains {
                        $0.key == NodeInitialization.taintKey
                    }
                })
            let node = try await admin.get(Node.self, name: "tainted")
            #expect(node.spec.providerID == "keepalived-lb://lab/tainted")
            // The API server's own admission adds node.kubernetes.io/not-ready at creation: kept too.
            #expect(
                node.spec.taints.map(\.key) == ["dedicated", "node.kubernetes.io/not-ready"]
                    && node.spec.taints.first?.effect == "NoExecute", "the other taints are kept as they were")
            #expect(node.status.addresses.map(\.address) == ["192.0.2.21"], "the kubelet's addresses are kept")
            let plain = try await admin.get(Node.self, name: "plain")
            #expect(plain.spec.providerID == nil, "an initialised node is left alone")
            #expect(
                try await eventually {
                    try await admin.list(Event.self, namespace: "default").items.contains {
                        $0.reason == "NodeInitialized" && $0.involvedObject.name == "tainted"
                    }
                })
        }
    }

    @Test func withInitializeNodesOffTheTaintStays() async throws {
        try await Self.run(initializeNodes: false) { _, admin in
            try await Task.sleep(for: .seconds(2))
            let node = try await admin.get(Node.self, name: "tainted")
            #expect(node.spec.taints.contains { $0.key == NodeInitialization.taintKey })
            #expect(node.spec.providerID == nil)
        }
    }
}
