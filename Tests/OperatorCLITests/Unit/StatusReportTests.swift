import CloudProvider
import IPAM
import Keepalived
import KubeClient
import OperatorCLI
import Testing

/// The status report from objects alone: what is served, by whom, and what is wrong.
@Suite("kubectl keepalived status report (no I/O)")
struct StatusReportTests {
    static let planner = try! VRRPPlanner(cluster: "lab", vrids: VRIDRange(parsing: "100-103"), groups: 4)
    static let pool = try! Pool.parse(name: "lab", ["192.0.2.64/26"]).pool

    static func configMap(addresses: [String], pools: Bool = true) throws -> ConfigMap {
        let plan = try planner.plan(addresses: addresses.map { try IPAddress($0) }, nodes: ["node-a", "node-b"])
        var configMap = ConfigMap(
            name: "vip-configmap", namespace: "kube-system", data: [VRRPPlan.dataKey: plan.json()])
        if pools { configMap.metadata.annotations = [PoolAnnotation.annotation: PoolAnnotation([pool]).json()] }
        return configMap
    }

    static func service(_ name: String, ip: String?, sharingKey: String? = nil) -> Service {
        var service = Service()
        service.metadata = ObjectMeta(name: name, namespace: "default")
        if let sharingKey { service.metadata.annotations = [Sharing.annotation: sharingKey] }
        service.spec.type = .loadBalancer
        if let ip {
            var ingress = LoadBalancerIngress(json: [:])
            ingress.ip = ip
            service.status.loadBalancer.ingress = [ingress]
        }
        return service
    }

    static func node(_ name: String, holding vips: [String]) throws -> Node {
        var node = Node()
        node.metadata = ObjectMeta(name: name)
        let state = NodeVRRPState(running: true, instances: [:], vips: try vips.map { try IPAddress($0) })
        node.metadata.annotations = [NodeVRRPState.annotation: state.json()]
        return node
    }

    @Test func servedPendingUnheldAndSplitBrainServicesAreToldApart() throws {
        let report = StatusReport(
            configMapKey: "kube-system/vip-configmap",
            configMap: try Self.configMap(addresses: ["192.0.2.65", "192.0.2.66", "192.0.2.67"]),
            services: [
                Self.service("served", ip: "192.0.2.65", sharingKey: "dns"), Self.service("pending", ip: nil),
                Self.service("unheld", ip: "192.0.2.66"), Self.service("split", ip: "192.0.2.67"),
                {
                    var cluster = Self.service("cluster-ip", ip: nil)
                    cluster.spec.type = .clusterIP
                    return cluster
                }(),
            ],
            nodes: [
                try Self.node("node-a", holding: ["192.0.2.65", "192.0.2.67"]),
                try Self.node("node-b", holding: ["192.0.2.67"]),
            ])
        #expect(report.services.map(\.name) == ["pending", "served", "split", "unheld"])
        let served = try #require(report.services.first { $0.name == "served" })
        let instance = try #require(served.instance)
        #expect(served.problems.isEmpty && served.announcedBy == ["node-a"] && served.pool == "lab")
        #expect(served.sharingKey == "dns" && instance.hasPrefix("lab_v4_") && (100...103).contains(served.vrid ?? 0))
        #expect(report.services.first { $0.name == "pending" }?.problems == ["no address yet"])
        #expect(report.services.first { $0.name == "unheld" }?.problems == ["192.0.2.66 is held by no node"])
        let split = try #require(report.services.first { $0.name == "split" })
        #expect(
            split.problems == ["split brain: 192.0.2.67 on node-a,node-b"] && split.announcedBy == ["node-a", "node-b"])
        #expect(report.splitBrain == 1 && report.unserved == 2)
        let pool = try #require(report.pools.first)
        #expect(report.pools.count == 1 && pool.pool == "lab" && pool.family == "IPv4")
        #expect(pool.size == "62" && pool.used == 3 && pool.free == "59")
        #expect(report.text.contains("SHARING-KEY") && report.text.contains("4 LoadBalancer Services, 2 unserved"))
    }

    @Test func anAddressOutsideEveryPoolIsFlaggedAndUnknownPoolsAreSaid() throws {
        let outside = StatusReport(
            configMapKey: "kube-system/vip-configmap", configMap: try Self.configMap(addresses: ["198.51.100.7"]),
            services: [Self.service("moved", ip: "198.51.100.7")],
            nodes: [try Self.node("node-a", holding: ["198.51.100.7"])])
        #expect(outside.services.first?.problems == ["outside every pool"] && outside.services.first?.pool == nil)
        let unknown = StatusReport(
            configMapKey: "kube-system/vip-configmap",
            configMap: try Self.configMap(addresses: ["192.0.2.65"], pools: false), services: [], nodes: [])
        #expect(!unknown.poolsKnown && unknown.text.contains("pools: unknown"))
    }

    @Test func configCheckSizesPoolsListsInstancesAndWarnsOfCommonVRIDs() throws {
        let pool = try Pool.parse(
            name: "fcp", ["10.210.1.64/26", "fd00:10:210:4::/120"], excluding: ["10.210.1.65"]
        ).pool
        let check = ConfigCheck(
            pool: pool, planner: try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "49-52"), groups: 2))
        #expect(check.pools.map(\.size) == ["61", "255"] && check.pools[0].excluded == ["10.210.1.65"])
        #expect(check.instances.map(\.instance) == ["fcp_v4_49", "fcp_v4_50", "fcp_v6_49", "fcp_v6_50"])
        #expect(check.warnings.count == 2 && check.warnings[0].contains("VRID 50, kube-keepalived-vip's default"))
        let clear = ConfigCheck(
            pool: pool, planner: try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(100, 107), groups: 8))
        #expect(clear.warnings.isEmpty)

        var web = VIPPool()
        web.metadata = ObjectMeta(name: "web")
        web.spec.addresses = ["198.51.100.0/28"]
        web.spec.namespaces = ["team-a"]
        var overlapping = VIPPool()
        overlapping.metadata = ObjectMeta(name: "overlapping")
        overlapping.metadata.creationTimestamp = "2026-01-02T00:00:00Z"
        overlapping.spec.addresses = ["10.210.1.70-10.210.1.80"]
        let withObjects = ConfigCheck(
            pool: pool, planner: try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(100, 107), groups: 2),
            objects: [web, overlapping])
        #expect(withObjects.pools.map(\.pool) == ["fcp", "fcp", "web"] && withObjects.pools[2].namespaces == "team-a")
        #expect(withObjects.errors.count == 1 && withObjects.errors[0].contains("overlap pool fcp"))
    }

    @Test func tableColumnsAlign() {
        var table = Table("A", "LONGER")
        table.add("wide-cell", "x")
        #expect(table.text == "A          LONGER\nwide-cell  x\n")
    }
}
