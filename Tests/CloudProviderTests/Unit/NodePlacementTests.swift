import IPAM
import Keepalived
import KubeClient
import Testing

@testable import CloudProvider

/// Which nodes may hold which VIP, on values: no informer, no API server.
@Suite("Node placement")
struct NodePlacementTests {
    private func node(_ name: String, labels: [String: String] = [:], state: NodeVRRPState? = nil) -> Node {
        var node = Node()
        node.metadata = ObjectMeta(name: name)
        node.metadata.labels = labels
        if let state { node.metadata.annotations[NodeVRRPState.annotation] = state.json() }
        return node
    }

    private func master(of instance: String, interfaces: [String]? = nil) -> NodeVRRPState {
        NodeVRRPState(running: true, instances: [instance: "MASTER"], vips: [], interfaces: interfaces)
    }

    private func vipPool(_ name: String, _ addresses: String, zone: String?, interface: String? = nil) -> VIPPool {
        var object = VIPPool()
        object.metadata = ObjectMeta(name: name)
        object.spec.addresses = [addresses]
        if let zone {
            var selector = LabelSelector()
            selector.matchLabels = ["zone": zone]
            object.spec.nodeSelector = selector
        }
        if let interface { object.spec.interface = interface }
        return object
    }

    @Test func theExclusionLabelAndBadNamesLeaveNodesOutUnlessTheLabelIsIgnored() {
        let nodes = [
            node("a"), node("b", labels: [ControllerConfiguration.excludeLabel: ""]),
            node(String(repeating: "x", count: 300)),
        ]
        var honouring = NodePlacement(honorsExcludeLabel: true)
        let seen = honouring.nodesSeen(nodes)
        #expect(seen.eligible == ["a"])
        #expect(seen.excluded == 1)
        #expect(seen.rejected.map(\.name.count) == [300])
        var ignoring = NodePlacement(honorsExcludeLabel: false)
        #expect(ignoring.nodesSeen(nodes).eligible == ["a", "b"])
    }

    @Test func aLeaderIsOneNodeAloneReportingMasterAndAChangeIsSaidOnce() {
        var placement = NodePlacement(honorsExcludeLabel: true)
        #expect(placement.nodesSeen([node("a", state: master(of: "vi_1")), node("b")]).mastersChanged)
        #expect(placement.masters == ["vi_1": "a"])
        #expect(!placement.nodesSeen([node("a", state: master(of: "vi_1")), node("b")]).mastersChanged)
        // Two nodes saying MASTER: nobody leads it (split brain is not leadership).
        let both = placement.nodesSeen([node("a", state: master(of: "vi_1")), node("b", state: master(of: "vi_1"))])
        #expect(both.mastersChanged)
        #expect(placement.masters.isEmpty)
    }

    @Test func aPoolsNodesAreThoseItsSelectorPicksThatReportItsInterface() throws {
        var placement = NodePlacement(honorsExcludeLabel: true)
        let seen = placement.nodesSeen([
            node("a", labels: ["zone": "b"], state: master(of: "vi_1", interfaces: ["eth1"])),
            node("b", labels: ["zone": "b"]), node("c"),
        ])
        #expect(seen.poolViewChanged)
        let flag = try Pool.parse(name: "lab", ["192.0.2.0/28"]).pool
        let catalog = PoolCatalog(
            flagPool: flag,
            objects: [
                vipPool("zoned", "198.51.100.0/28", zone: "b"),
                vipPool("wired", "198.51.100.16/28", zone: "b", interface: "eth1"),
                vipPool("nowhere", "198.51.100.32/28", zone: "none"),
            ])
        let nodes = Dictionary(uniqueKeysWithValues: catalog.usable.map { ($0.name, placement.nodes(of: $0)) })
        #expect(nodes == ["lab": ["a", "b", "c"], "zoned": ["a", "b"], "wired": ["a"], "nowhere": []])
    }

    @Test func eachUnservedServiceHasItsReason() throws {
        var placement = NodePlacement(honorsExcludeLabel: true)
        _ = placement.nodesSeen([node("a", labels: ["zone": "b"]), node("c")])
        let flag = try Pool.parse(name: "lab", ["192.0.2.0/28"]).pool
        let catalog = PoolCatalog(flagPool: flag, objects: [vipPool("nowhere", "198.51.100.0/28", zone: "none")])
        var ledger = Ledger(pools: catalog.pools)
        let cluster = ObjectKey(namespace: "ns", name: "cluster")
        let local = ObjectKey(namespace: "ns", name: "local")
        let stranded = ObjectKey(namespace: "ns", name: "stranded")
        let request = LoadBalancerRequest(families: [.ipv4])
        _ = try ledger.ensure(cluster, uid: "1", request: request, candidates: ["lab"])
        _ = try ledger.ensure(local, uid: "2", request: request, candidates: ["lab"])
        _ = try ledger.ensure(stranded, uid: "3", request: request, candidates: ["nowhere"])
        var endpoints = LocalEndpoints()
        _ = endpoints.serviceChanged(local, isLocal: true)
        // Its one endpoint is on a node that is not eligible.
        _ = endpoints.sliceChanged(
            ObjectKey(namespace: "ns", name: "local-1"), service: local, nodes: .init(ready: ["gone"]))
        let (eligible, problems) = placement.problems(ledger: ledger, catalog: catalog, local: endpoints)
        #expect(eligible == ["lab": ["a", "c"], "nowhere": []])
        #expect(problems == [local: .noEndpoints, stranded: .noEligibleNode(pool: "nowhere")])
        // Once the endpoint is on an eligible node, served (a plan leaving it unplaced would say noLeader).
        _ = endpoints.sliceChanged(
            ObjectKey(namespace: "ns", name: "local-1"), service: local, nodes: .init(ready: ["c"]))
        #expect(placement.problems(ledger: ledger, catalog: catalog, local: endpoints).problems[local] == nil)
        let allowed = placement.placement(
            of: ledger.entries.map(\.address), ledger: ledger, catalog: catalog, local: endpoints
        ).allowedNodes
        #expect(allowed[try #require(ledger.records[local]?.addresses.first)] == ["c"])
        #expect(allowed[try #require(ledger.records[stranded]?.addresses.first)] == [])
    }
}
