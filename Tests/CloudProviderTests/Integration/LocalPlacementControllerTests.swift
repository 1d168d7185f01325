import Foundation
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
import Testing

@testable import CloudProvider

/// The controller's side of `externalTrafficPolicy: Local`: EndpointSlices in, the plan's `allowedNodes` and `ports`
/// out, on kube-apiserver (v1beta1 slices, as v1.20 serves) and the in-memory server (v1). Bad slices give the
/// Service a Warning and harm nothing else.
@Suite("Local placement in the controller", .serialized)
struct LocalPlacementControllerTests {
    /// Replaces the Service's one slice with these endpoints (node name, ready).
    private func setEndpoints(
        _ h: ControllerHarness, _ backend: Backend, _ service: String, _ endpoints: [SliceEndpoint]
    ) async throws {
        func write<Slice: EndpointSliceObject>(_: Slice.Type) async throws {
            var slice = Slice()
            slice.metadata = ObjectMeta(name: "\(service)-slice", namespace: h.namespace)
            slice.metadata.labels = [Slice.serviceNameLabel: service]
            slice.json["addressType"] = "IPv4"
            slice.endpoints = endpoints
            do {
                let existing = try await h.admin.get(Slice.self, namespace: h.namespace, name: "\(service)-slice")
                slice.metadata.resourceVersion = existing.metadata.resourceVersion
                _ = try await h.admin.update(slice)
            } catch {
                guard error.code == .notFound else { throw error }
                _ = try await h.admin.create(slice)
            }
        }
        switch backend {
        case .inMemory: try await write(EndpointSlice.self)
        case .kubeAPIServer: try await write(EndpointSliceV1Beta1.self)
        }
    }

    private func endpoint(_ node: String?, ready: Bool? = true, terminating: Bool? = nil, serving: Bool? = nil)
        -> SliceEndpoint
    {
        var endpoint = SliceEndpoint(
            addresses: ["10.244.1.7"], nodeName: node, ready: ready, serving: serving, terminating: terminating)
        // v1.20 drops v1beta1's nodeName (alpha, off): its node is the topology hostname there.
        if let node { endpoint.json["topology"] = ["kubernetes.io/hostname": .string(node)] }
        return endpoint
    }

    /// The reason of the Service's `Announced=False` condition; nil when it has none.
    private func announced(_ h: ControllerHarness, _ name: String) async throws -> String? {
        try await h.service(name)?.status.conditions.first { $0.type == "keepalived-lb.io/Announced" }?.reason
    }

    @Test(arguments: Backend.available)
    func endpointsDecideWhoMayHoldALocalVIPAndBadSlicesHarmNothing(_ backend: Backend) async throws {
        let h = try await ControllerHarness.make(backend)
        try await h.node("a")
        try await h.node("b")
        let (_, task) = h.start(try h.configuration())
        defer { task.cancel() }
        _ = try await h.loadBalancer("cluster")
        _ = try await h.loadBalancer("local") { $0.spec.externalTrafficPolicy = "Local" }
        let a = "\(h.namespace)-a"
        let b = "\(h.namespace)-b"
        #expect(try await eventually { try await h.ingress("cluster").count == 1 })
        #expect(try await eventually { try await h.ingress("local").count == 1 })
        let clusterVIP = try IPAddress(try await h.ingress("cluster")[0])
        let localVIP = try IPAddress(try await h.ingress("local")[0])
        let clusterGroup = try #require(try await h.plan()?.groupsByAddress[clusterVIP])

        // No slice: held by no node, and the owner is told.
        #expect(try await eventually { try await h.plan()?.allowedNodes(of: localVIP) == [] })
        #expect(
            try await eventually { try await h.events(for: "local").contains { $0.reason == "LocalEndpointsUnserved" } }
        )
        #expect(try await eventually { try await announced(h, "local") == "LocalEndpointsUnserved" })
        #expect(try await h.plan()?.allowedNodes(of: clusterVIP) == nil, "a Cluster VIP may be held anywhere")
        #expect(
            try await h.plan()?.instances.first { $0.addresses.contains(clusterVIP) }?.ports[clusterVIP] == [
                try VIPPort(.tcp, 8080)
            ])

        try await setEndpoints(h, backend, "local", [endpoint(b)])
        #expect(try await eventually { try await h.plan()?.allowedNodes(of: localVIP) == [b] })
        #expect(try await eventually { try await announced(h, "local") == nil }, "the condition goes once it is served")
        let plan = try #require(try await h.plan())
        let instance = try #require(plan.instances.first { $0.addresses.contains(localVIP) })
        #expect(plan.nodes[instance.preferred] == b, "it rides a group node b leads")

        // Bad slices: endpoints on a node that does not exist, node names that are no names, garbage addresses, no
        // conditions, the most endpoints a slice may have (1,000). None reaches the plan but as a node of the plan.
        var garbage = [
            endpoint("no-such-node"), endpoint("a\nb"), endpoint(String(repeating: "x", count: 300)), endpoint(nil),
            endpoint("../etc"),
        ]
        garbage[0].json["addresses"] = ["not-an-ip", "<script>"]
        // kube-apiserver refuses those itself (addresses and topology values are validated); the in-memory server
        // stores them, as a server with other validation could.
        if backend == .kubeAPIServer { garbage = [endpoint("no-such-node")] }
        try await setEndpoints(h, backend, "local", garbage + (0..<995).map { _ in endpoint("no-such-node") })
        #expect(try await eventually { try await h.plan()?.allowedNodes(of: localVIP) == [] })
        // Terminating but serving counts while nothing is ready; ready wins once there is one.
        try await setEndpoints(h, backend, "local", [endpoint(a, ready: false, terminating: true, serving: true)])
        if backend == .inMemory {  // v1.20 drops `serving` and `terminating` (alpha, off).
            #expect(try await eventually { try await h.plan()?.allowedNodes(of: localVIP) == [a] })
        }
        try await setEndpoints(
            h, backend, "local",
            [endpoint(a, ready: false, terminating: true, serving: true), endpoint(b, ready: true)])
        #expect(try await eventually { try await h.plan()?.allowedNodes(of: localVIP) == [b] })

        // The bystander never moved.
        #expect(try await h.plan()?.groupsByAddress[clusterVIP] == clusterGroup)
        #expect(try await h.ingress("cluster") == [clusterVIP.description])
        try await h.deleteNodes()
    }

    @Test(arguments: Backend.available)
    func aServiceThatTurnsLocalIsPlacedFromTheSlicesItHasAlready(_ backend: Backend) async throws {
        let h = try await ControllerHarness.make(backend)
        try await h.node("a")
        try await h.node("b")
        let (_, task) = h.start(try h.configuration())
        defer { task.cancel() }
        _ = try await h.loadBalancer("web")
        try await setEndpoints(h, backend, "web", [endpoint("\(h.namespace)-b")])
        #expect(try await eventually { try await h.ingress("web").count == 1 })
        let vip = try IPAddress(try await h.ingress("web")[0])
        #expect(try await h.plan()?.allowedNodes(of: vip) == nil, "Cluster: any node")
        _ = try await h.admin.patch(
            Service.self, namespace: h.namespace, name: "web", .merge(["spec": ["externalTrafficPolicy": "Local"]]))
        #expect(try await eventually { try await h.plan()?.allowedNodes(of: vip) == ["\(h.namespace)-b"] })
        _ = try await h.admin.patch(
            Service.self, namespace: h.namespace, name: "web", .merge(["spec": ["externalTrafficPolicy": "Cluster"]]))
        #expect(try await eventually { try await h.plan()?.allowedNodes(of: vip) == nil })
        try await h.deleteNodes()
    }

    @Test func sliceNodesAreReadDefensively() throws {
        var slice = EndpointSlice()
        slice.metadata = ObjectMeta(name: "s", namespace: "ns")
        #expect(LocalEndpoints.read(slice) == nil, "no service label: not a Service's slice")
        slice.metadata.labels = [EndpointSlice.serviceNameLabel: "web"]
        var topology = SliceEndpoint(addresses: ["garbage"], nodeName: nil, ready: nil)
        topology.json["topology"] = ["kubernetes.io/hostname": "node-t"]
        slice.endpoints = [
            SliceEndpoint(addresses: [], nodeName: "node-a", ready: true),
            SliceEndpoint(addresses: [], nodeName: "node-b", ready: false),
            SliceEndpoint(addresses: [], nodeName: "node-c", ready: false, serving: true, terminating: true),
            SliceEndpoint(addresses: [], nodeName: "NODE_bad", ready: true),
            topology,
        ]
        let read = try #require(LocalEndpoints.read(slice))
        #expect(read.service.description == "ns/web")
        #expect(read.nodes.ready == ["node-a", "node-t"], "nil ready is ready; an invalid node name is dropped")
        #expect(read.nodes.terminating == ["node-c"])

        // Ready nodes win; terminating ones count only while none is ready; only Local Services are kept.
        var endpoints = LocalEndpoints()
        let key = read.service
        #expect(read.slice.description == "ns/s")
        let ignored = endpoints.sliceChanged(read.slice, service: key, nodes: read.nodes)
        #expect(!ignored, "not Local: not kept")
        let turnedLocal = endpoints.serviceChanged(key, isLocal: true)
        #expect(turnedLocal)
        let filled = endpoints.sliceChanged(read.slice, service: key, nodes: read.nodes)
        #expect(filled)
        #expect(endpoints.nodes(of: key) == ["node-a", "node-t"])
        let allTerminating = endpoints.sliceChanged(
            read.slice, service: key, nodes: .init(ready: [], terminating: ["node-c"]))
        #expect(allTerminating)
        #expect(endpoints.nodes(of: key) == ["node-c"])
        let deleted = endpoints.sliceChanged(read.slice, service: nil, nodes: nil)
        #expect(deleted)
        #expect(endpoints.nodes(of: key).isEmpty)
    }

    /// A Service turns Local and its slices are listed from the API; a slice the watch deletes while that list
    /// is on its way must not come back from the list's (older) answer: its node would stay allowed for good.
    @Test func aSliceDeletedWhileTheListIsAnsweredStaysDeleted() async throws {
        let h = try await ControllerHarness.make(.inMemory)
        let memory = try #require(h.memory)
        try await h.node("a")
        let (_, task) = h.start(try h.configuration())
        defer { task.cancel() }
        _ = try await h.loadBalancer("web")
        try await setEndpoints(h, .inMemory, "web", [endpoint("\(h.namespace)-a")])
        #expect(try await eventually { try await h.ingress("web").count == 1 })
        let vip = try IPAddress(try await h.ingress("web")[0])

        // The list that fills the Service's slices is answered after the watch delivered the slice's deletion.
        memory.afterNext(.list, EndpointSlice.self) {
            try? await memory.delete(EndpointSlice.self, namespace: h.namespace, name: "web-slice")
            try? await Task.sleep(for: .milliseconds(300))
        }
        _ = try await h.admin.patch(
            Service.self, namespace: h.namespace, name: "web", .merge(["spec": ["externalTrafficPolicy": "Local"]]))
        #expect(try await eventually { try await announced(h, "web") == "LocalEndpointsUnserved" })
        #expect(try await h.plan()?.allowedNodes(of: vip) == [], "no endpoint is left: held by no node")
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await h.plan()?.allowedNodes(of: vip) == [])
    }
}

/// Pools that choose nodes (`spec.nodeSelector`), and clusters where no node is eligible.
@Suite("Pools that choose nodes")
struct PoolNodeSelectorTests {
    private func pool(_ name: String, _ addresses: String, selector: [String: String]?) -> VIPPool {
        var object = VIPPool()
        object.metadata = ObjectMeta(name: name)
        object.spec.addresses = [addresses]
        if let selector {
            var labelSelector = LabelSelector()
            labelSelector.matchLabels = selector
            object.spec.nodeSelector = labelSelector
        }
        return object
    }

    @Test func aSelectorThatDoesNotParseKeepsThePoolOutAndSaysWhy() {
        var broken = pool("broken", "198.51.100.0/28", selector: nil)
        var selector = LabelSelector()
        selector.json["matchExpressions"] = [["key": "zone", "operator": "Near"]]
        broken.spec.nodeSelector = selector
        let catalog = PoolCatalog(
            flagPool: try! Pool.parse(name: "lab", ["192.0.2.64/27"]).pool,
            objects: [broken, pool("zoned", "198.51.100.16/28", selector: ["zone": "b"])])
        #expect(catalog.problems["broken"]?.reason == "InvalidNodeSelector")
        #expect(catalog.problems["broken"]?.message.contains("spec.nodeSelector") == true)
        #expect(catalog.usable.map(\.name) == ["lab", "zoned"])
        #expect(catalog.selectsNodes)
    }

    @Test func aPoolsAddressesAreHeldOnlyByTheNodesItSelects() async throws {
        let h = try await ControllerHarness.make(.inMemory)
        let memory = try #require(h.memory)
        try await h.node("a")
        try await h.node("b", extraLabels: ["zone": "b"])
        try await h.node(
            "c", extraLabels: ["zone": "b", "node.kubernetes.io/exclude-from-external-load-balancers": ""])
        _ = try await memory.create(pool("zoned", "198.51.100.0/28", selector: ["zone": "b"]))
        _ = try await memory.create(pool("nowhere", "198.51.100.16/28", selector: ["zone": "none"]))
        let (_, task) = h.start(try h.configuration())
        defer { task.cancel() }
        _ = try await h.loadBalancer("zoned-svc", annotations: [VIPPool.serviceAnnotation: "zoned"])
        _ = try await h.loadBalancer("nowhere-svc", annotations: [VIPPool.serviceAnnotation: "nowhere"])
        _ = try await h.loadBalancer("anywhere")
        #expect(try await eventually { try await h.ingress("zoned-svc") == ["198.51.100.1"] })
        #expect(try await eventually { try await h.ingress("nowhere-svc") == ["198.51.100.17"] })
        #expect(try await eventually { try await h.ingress("anywhere").count == 1 })
        let b = "\(h.namespace)-b"
        #expect(try await eventually { try await h.plan()?.allowedNodes(of: IPAddress("198.51.100.1")) == [b] })
        #expect(try await h.plan()?.nodes == ["\(h.namespace)-a", b], "the excluded node is in no group")
        #expect(try await h.plan()?.allowedNodes(of: IPAddress("198.51.100.17")) == [])
        #expect(try await h.plan()?.allowedNodes(of: IPAddress(try await h.ingress("anywhere")[0])) == nil)
        #expect(
            try await eventually {
                try await h.events(for: "nowhere-svc").contains {
                    $0.reason == "NoEligibleNode" && $0.message?.contains("pool nowhere") == true
                }
            })
        #expect(try await h.events(for: "zoned-svc").allSatisfy { $0.type != "Warning" })
        // The pools say it too: their NodesEligible condition and count, and a Warning on the one with none.
        func eligible(_ pool: String) async throws -> (Condition?, Int?) {
            let object = try await memory.get(VIPPool.self, name: pool)
            return (
                object.status.conditions.first { $0.type == "NodesEligible" },
                object.status.json["eligibleNodes"]?.intValue
            )
        }
        #expect(
            try await eventually {
                let (condition, count) = try await eligible("nowhere")
                return condition?.status == .false && condition?.reason == "NoEligibleNode" && count == 0
            })
        #expect(
            try await eventually {
                let (condition, count) = try await eligible("zoned")
                return condition?.status == .true && count == 1
            })
        #expect(
            try await eventually {
                try await memory.list(Event.self, namespace: "default").items.contains {
                    $0.involvedObject.name == "nowhere" && $0.reason == "NoEligibleNode"
                }
            })
        #expect(
            try await eventually {
                try await h.service("nowhere-svc")?.status.conditions.contains {
                    $0.type == "keepalived-lb.io/Announced" && $0.status == .false && $0.reason == "NoEligibleNode"
                } == true
            })
        try await h.deleteNodes()
    }

    @Test func aPoolsInterfaceChoosesTheNodesWhoseAgentReportsIt() async throws {
        let h = try await ControllerHarness.make(.inMemory)
        let memory = try #require(h.memory)
        try await h.node("a")
        try await h.node("b")
        for (node, interfaces) in [("a", ["eth0", "lo"]), ("b", ["eth0", "eth1", "lo"])] {
            let state = NodeVRRPState(running: true, instances: [:], vips: [], interfaces: interfaces)
            _ = try await memory.patch(
                Node.self, name: "\(h.namespace)-\(node)",
                .merge(["metadata": ["annotations": [NodeVRRPState.annotation: .string(state.json())]]]))
        }
        var storage = pool("storage", "198.51.100.32/28", selector: nil)
        storage.spec.interface = "eth1"
        _ = try await memory.create(storage)
        var broken = pool("broken", "198.51.100.48/28", selector: nil)
        broken.spec.interface = "eth/1"
        _ = try await memory.create(broken)
        let (_, task) = h.start(try h.configuration())
        defer { task.cancel() }
        _ = try await h.loadBalancer("nas", annotations: [VIPPool.serviceAnnotation: "storage"])
        #expect(try await eventually { try await h.ingress("nas") == ["198.51.100.33"] })
        let vip = try IPAddress("198.51.100.33")
        #expect(try await eventually { try await h.plan()?.allowedNodes(of: vip) == ["\(h.namespace)-b"] })
        #expect(try await h.plan()?.instances.first { $0.addresses.contains(vip) }?.interfaces[vip] == "eth1")
        #expect(
            try await eventually {
                try await memory.get(VIPPool.self, name: "broken").status.conditions.contains {
                    $0.type == "Ready" && $0.status == .false && $0.reason == "InvalidInterface"
                }
            })
        try await h.deleteNodes()
    }

    @Test func aCompactClusterWhoseNodesAreAllExcludedIsToldAndCanOptIn() async throws {
        let h = try await ControllerHarness.make(.inMemory)
        try await h.node("cp", extraLabels: ["node.kubernetes.io/exclude-from-external-load-balancers": ""])
        let (_, task) = h.start(try h.configuration())
        _ = try await h.loadBalancer("web")
        #expect(try await eventually { try await h.ingress("web").count == 1 }, "the address is still given")
        #expect(try await eventually { try await h.events(for: "web").contains { $0.reason == "NoEligibleNode" } })
        #expect(try await h.plan()?.nodes == [])
        task.cancel()
        _ = await task.result

        var configuration = try h.configuration()
        configuration.honorsExcludeLabel = false
        let (_, again) = h.start(configuration)
        defer { again.cancel() }
        #expect(try await eventually { try await h.plan()?.nodes == ["\(h.namespace)-cp"] })
        try await h.deleteNodes()
    }

}
