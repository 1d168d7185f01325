import CloudProvider
import Foundation
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
import TestLab
import TestTraits
import Testing

@Suite("Pool catalog (no I/O)")
struct PoolCatalogTests {
    static func pool(_ name: String, _ addresses: [String], created: String, build: (inout VIPPool) -> Void = { _ in })
        -> VIPPool
    {
        var object = VIPPool()
        object.metadata = ObjectMeta(name: name)
        object.metadata.creationTimestamp = created
        object.spec.addresses = addresses
        build(&object)
        return object
    }

    static let flag = try! Pool.parse(name: "lab", ["192.0.2.64/27"]).pool

    @Test func overlapsInvalidAddressesAndTheFlagPoolsNameAreRefusedOnTheLaterPool() {
        let catalog = PoolCatalog(
            flagPool: Self.flag,
            objects: [
                Self.pool("late", ["203.0.113.8/29"], created: "2026-01-02T00:00:00Z"),
                Self.pool("early", ["203.0.113.0/28"], created: "2026-01-01T00:00:00Z"),
                Self.pool("flagged", ["192.0.2.70"], created: "2026-01-01T00:00:00Z"),
                Self.pool("broken", ["10.0.0.300/24"], created: "2026-01-01T00:00:00Z"),
                Self.pool("lab", ["198.51.100.0/28"], created: "2026-01-01T00:00:00Z"),
            ])
        #expect(catalog.usable.map(\.name) == ["lab", "early"])
        #expect(catalog.problems["late"]?.reason == "Conflict" && catalog.problems["late"]?.conflictsWith == "early")
        #expect(catalog.problems["flagged"]?.conflictsWith == "lab", "the flag pool comes first")
        #expect(catalog.problems["broken"]?.reason == "InvalidAddresses")
        #expect(catalog.problems["lab"]?.reason == "NameTaken")
    }

    @Test func choiceByAnnotationNamespaceAutoAssignAndPriority() throws {
        let catalog = PoolCatalog(
            flagPool: Self.flag,
            objects: [
                Self.pool("web", ["198.51.100.0/28"], created: "2026-01-01T00:00:00Z") {
                    $0.spec.namespaces = ["team-a"]
                    $0.spec.autoAssign = false
                },
                Self.pool("high", ["203.0.113.0/28"], created: "2026-01-01T00:00:00Z") { $0.spec.priority = 10 },
                Self.pool("alpha", ["203.0.113.16/28"], created: "2026-01-01T00:00:00Z") { $0.spec.priority = 10 },
            ])
        #expect(try catalog.candidates(namespace: "team-a", annotation: "web", requested: []).map(\.name) == ["web"])
        #expect(
            try catalog.candidates(namespace: "team-b", annotation: nil, requested: []).map(\.name)
                == ["alpha", "high", "lab"], "priority first, then name; web is not autoAssign")
        #expect(throws: ServiceRefusal.self) {
            try catalog.candidates(namespace: "team-b", annotation: "web", requested: [])
        }
        let foreign = try IPAddress("198.51.100.5")
        do throws(ServiceRefusal) {
            _ = try catalog.candidates(namespace: "team-b", annotation: nil, requested: [foreign])
            Issue.record("an address of a pool the namespace may not use was accepted")
        } catch {
            #expect(error.reason == "PoolNotAllowed" && error.message.contains("namespaces team-a"))
        }
        #expect(throws: ServiceRefusal.self) {
            try catalog.candidates(namespace: "team-b", annotation: "missing", requested: [])
        }
    }

    @Test func namespaceSelectorAdmitsByLabelsBesideTheList() throws {
        var selector = LabelSelector()
        selector.matchLabels = ["team": "blue"]
        selector.json["matchExpressions"] = [["key": "tier", "operator": "NotIn", "values": ["dev"]]]
        let catalog = PoolCatalog(
            flagPool: Self.flag,
            objects: [
                Self.pool("blue", ["198.51.100.0/28"], created: "2026-01-01T00:00:00Z") {
                    $0.spec.namespaces = ["ops"]
                    $0.spec.namespaceSelector = selector
                },
                Self.pool("broken", ["203.0.113.0/28"], created: "2026-01-01T00:00:00Z") {
                    $0.spec.namespaceSelector = LabelSelector(json: [
                        "matchExpressions": [["key": "x", "operator": "Exists", "values": ["y"]]]
                    ])
                },
            ])
        let blue = try #require(catalog.definition(named: "blue"))
        #expect(blue.allows("ops") && blue.allows("apps", labels: ["team": "blue"]))
        #expect(!blue.allows("apps", labels: ["team": "blue", "tier": "dev"]) && !blue.allows("apps"))
        #expect(catalog.problems["broken"]?.reason == "InvalidNamespaceSelector")
        do throws(ServiceRefusal) {
            _ = try catalog.candidates(namespace: "apps", annotation: "blue", requested: [])
            Issue.record("a namespace without the labels was admitted")
        } catch {
            #expect(error.message.contains("namespaces ops and namespaces labelled team=blue,tier NotIn (dev)"))
        }
    }

    /// Pools edited or deleted never move a Service: its address stays, outside every pool if need be.
    @Test func reconfiguringKeepsEveryHeldAddress() throws {
        let shared = try Pool.parse(name: "shared", ["203.0.113.0/28"]).pool
        var ledger = Ledger(pools: [Self.flag, shared])
        let request = LoadBalancerRequest(families: [.ipv4])
        let held = try ledger.ensure("b/auto", uid: "1", request: request, candidates: ["shared"])
        #expect(held.map(\.description) == ["203.0.113.1"])
        ledger.reconfigure(pools: [Self.flag, try Pool.parse(name: "shared", ["203.0.113.16/28"]).pool])
        #expect(ledger.outsidePools.map(\.address.description) == ["203.0.113.1"])
        #expect(try ledger.ensure("b/auto", uid: "1", request: request, candidates: ["shared"]) == held)
        #expect(
            try ledger.ensure("b/other", uid: "2", request: request, candidates: ["shared"]).map(\.description)
                == ["203.0.113.17"])
        ledger.reconfigure(pools: [Self.flag, shared])
        #expect(ledger.outsidePools.map(\.key) == ["b/other"], "now the other one is outside, and keeps it")
        #expect(ledger.owner(of: held[0]) == "b/auto", "back in its pool, still its own")
    }
}

/// VIPPools on a real kube-apiserver with the CRD from deploy/, the controller under deploy/'s role.
@Suite("VIPPool against kube-apiserver", .serialized, .integration, .tags(.integration))
struct VIPPoolIntegrationTests {
    static func kubectl(_ cluster: TestCluster, _ arguments: [String]) async throws -> String {
        let (status, output) = try await runCommandAsync(
            ["kubectl", "--kubeconfig", cluster.adminKubeconfig] + arguments)
        guard status == 0 else { throw TestEnvironmentError(message: "kubectl \(arguments): \(output)") }
        return output
    }

    static func create(_ admin: KubernetesClient, _ name: String, _ addresses: [String], build: (inout VIPPool) -> Void)
        async throws
    {
        var object = VIPPool()
        object.metadata = ObjectMeta(name: name)
        object.spec.addresses = addresses
        build(&object)
        // A resource just established may still drop the first requests' connection: retried.
        var failure: (any Error)?
        for _ in 0..<20 {
            do {
                _ = try await admin.create(object)
                return
            } catch {
                failure = error
                try await Task.sleep(for: .milliseconds(250))
            }
        }
        throw failure!
    }

    static func service(_ admin: KubernetesClient, _ namespace: String, _ name: String, pool: String? = nil)
        async throws
    {
        var service = Service()
        service.metadata = ObjectMeta(name: name, namespace: namespace)
        if let pool { service.metadata.annotations = [VIPPool.serviceAnnotation: pool] }
        service.spec.type = .loadBalancer
        service.spec.ports = [ServicePort(name: "http", port: 80, targetPort: 8080)]
        _ = try await admin.create(service)
    }

    static func ingress(_ admin: KubernetesClient, _ namespace: String, _ name: String) async throws -> [String] {
        try await admin.get(Service.self, namespace: namespace, name: name).status.loadBalancer.ingress.compactMap(\.ip)
    }

    static func hasEvent(_ admin: KubernetesClient, _ namespace: String, _ name: String, _ reason: String) async throws
        -> Event?
    {
        try await admin.list(Event.self, namespace: namespace).items.first {
            $0.involvedObject.name == name && $0.reason == reason
        }
    }

    @Test func poolsChosenRefusedReportedAndNeverMovingAService() async throws {
        let cluster = try await TestEnvironment.start(prefix: "vippool")
        let admin = try cluster.adminClient()
        let outcome = await Result {
            _ = try await Self.kubectl(cluster, ["apply", "-f", DeployManifests.root + "/base/vippools.yaml"])
            _ = try await Self.kubectl(
                cluster, ["wait", "--for=condition=Established", "crd/vippools.keepalived-lb.io", "--timeout=30s"])
            try await cluster.bindDeployRole(
                "keepalived-cloud-provider", to: "klb-controller", namespace: "kube-system")
            for namespace in ["team-a", "team-b"] { _ = try await admin.create(Namespace(name: namespace)) }
            try await Self.create(admin, "web", ["198.51.100.0/28"]) {
                $0.spec.namespaces = ["team-a"]
                $0.spec.autoAssign = false
            }
            try await Self.create(admin, "shared", ["203.0.113.0/28"]) { $0.spec.priority = 10 }
            try await Self.create(admin, "blue", ["198.51.100.64/28"]) {
                $0.spec.autoAssign = false
                var selector = LabelSelector()
                selector.matchLabels = ["team": "blue"]
                $0.spec.namespaceSelector = selector
            }
            try await Task.sleep(for: .seconds(1))  // creation times have one-second resolution
            try await Self.create(admin, "overlap", ["203.0.113.8/29"]) { _ in }

            let configuration = ControllerConfiguration(
                pool: try Pool.parse(name: "lab", ["192.0.2.64/27"]).pool, clusterName: "lab", workers: 2)
            let controller = ServiceController(client: try cluster.controllerClient(), configuration: configuration)
            let task = Task { try await controller.run() }
            defer { task.cancel() }

            try await Self.service(admin, "team-a", "annotated", pool: "web")
            try await Self.service(admin, "team-b", "denied", pool: "web")
            try await Self.service(admin, "team-b", "auto")
            try await Self.service(admin, "team-b", "on-overlap", pool: "overlap")
            try await Self.service(admin, "team-b", "blue-svc", pool: "blue")
            #expect(try await eventually { try await Self.ingress(admin, "team-a", "annotated") == ["198.51.100.1"] })
            #expect(
                try await eventually { try await Self.ingress(admin, "team-b", "auto") == ["203.0.113.1"] },
                "the autoAssign pool of the highest priority")
            #expect(
                try await eventually {
                    try await Self.hasEvent(admin, "team-b", "denied", "PoolNotAllowed")?.message?.contains(
                        "namespaces team-a") == true
                })
            #expect(try await Self.ingress(admin, "team-b", "denied").isEmpty)
            #expect(
                try await eventually { try await Self.hasEvent(admin, "team-b", "on-overlap", "PoolNotReady") != nil })

            // Status, conditions, printer columns, the in-use finalizer.
            #expect(
                try await eventually {
                    let shared = try await admin.get(VIPPool.self, name: "shared")
                    return shared.status.used == 1 && shared.status.free == "13" && shared.status.size == "14"
                        && shared.status.services == ["team-b/auto"]
                        && shared.metadata.finalizers.contains(ServiceController.poolFinalizer)
                })
            #expect(
                try await eventually {
                    let overlap = try await admin.get(VIPPool.self, name: "overlap").status.conditions
                    return overlap.contains { $0.type == "Ready" && $0.status == .false && $0.reason == "Conflict" }
                        && overlap.contains { $0.type == "Conflict" && $0.status == .true }
                })
            #expect(try await eventually { try await Self.hasEvent(admin, "default", "overlap", "Conflict") != nil })
            let table = try await Self.kubectl(cluster, ["get", "vippools"])
            let shared = try #require(table.split(separator: "\n").first { $0.hasPrefix("shared ") })
            #expect(
                table.hasPrefix("NAME") && table.contains("READY") && table.contains("ADDRESSES")
                    && table.contains("USED"), "\(table)")
            #expect(
                shared.split(separator: " ").map(String.init)
                    .starts(with: ["shared", "True", "203.0.113.0/28", "1", "13"]), "\(shared)")
            let short = try await Self.kubectl(cluster, ["get", "vipp", "shared", "-o", "name"])
            #expect(short.contains("vippool.keepalived-lb.io/shared"), "the short name works")

            // Editing the pool out from under a Service: it keeps its address and is told.
            _ = try await admin.patch(
                VIPPool.self, name: "shared", .merge(["spec": ["addresses": ["203.0.113.32/28"]]]))
            #expect(
                try await eventually { try await Self.hasEvent(admin, "team-b", "auto", "AddressOutsidePools") != nil })
            #expect(try await Self.ingress(admin, "team-b", "auto") == ["203.0.113.1"], "never moved")
            #expect(
                try await eventually {
                    try await admin.get(Service.self, namespace: "team-b", name: "auto").status.conditions.contains {
                        $0.type == "keepalived-lb.io/AddressInPool" && $0.status == .false
                            && $0.reason == "OutsidePools"
                    }
                }, "and a condition says so until an operator acts")

            // Deleting a pool in use: it stays (finalizer) until its last Service goes.
            try await admin.delete(VIPPool.self, name: "web")
            try await Task.sleep(for: .seconds(1))
            let web = try await admin.get(VIPPool.self, name: "web")
            #expect(web.metadata.deletionTimestamp != nil && web.status.services == ["team-a/annotated"])
            #expect(try await Self.ingress(admin, "team-a", "annotated") == ["198.51.100.1"])
            try await admin.delete(Service.self, namespace: "team-a", name: "annotated")
            #expect(
                try await eventually {
                    do {
                        _ = try await admin.get(VIPPool.self, name: "web")
                        return false
                    } catch {
                        return (error as? KubeError)?.code == .notFound
                    }
                }, "the pool goes once nothing uses it")
        }
        await cluster.stop()
        try outcome.get()
    }
}

extension PoolCatalogTests {
    @Test func anAnnouncementModeIsReadAndBadOnesAreRefusedOnThePool() throws {
        func announced(_ build: @escaping (inout VIPPoolAnnouncement) -> Void, interface: String? = nil) -> VIPPool {
            Self.pool("routed", ["198.51.100.0/28"], created: "2026-01-01T00:00:00Z") {
                var announcement = VIPPoolAnnouncement()
                build(&announcement)
                $0.spec.announcement = announcement
                $0.spec.interface = interface
            }
        }
        let good = PoolCatalog(
            flagPool: Self.flag,
            objects: [
                announced {
                    $0.mode = "BGP"
                    $0.communities = ["64512:100"]
                    $0.localPreference = 150
                }
            ])
        #expect(good.definition(named: "routed")?.routed?.localPreference == 150)
        #expect(good.definition(named: "lab")?.routed == nil, "the --cidr pool stays VRRP")
        let bad: [(VIPPool, String)] = [
            (announced { $0.mode = "OSPF" }, "use VRRP or BGP"),
            (
                announced {
                    $0.mode = "BGP"
                    $0.communities = ["64512:100000"]
                }, "communities"
            ),
            (
                announced {
                    $0.mode = "BGP"
                    $0.localPreference = -1
                }, "localPreference"
            ),
            (announced { $0.communities = ["1:1"] }, "for mode BGP"),
            (announced({ $0.mode = "BGP" }, interface: "eth1"), "spec.interface is for mode VRRP"),
        ]
        for (object, message) in bad {
            let catalog = PoolCatalog(flagPool: Self.flag, objects: [object])
            #expect(catalog.definition(named: "routed") == nil)
            #expect(catalog.problems["routed"]?.reason == "InvalidAnnouncement")
            #expect(catalog.problems["routed"]?.message.contains(message) == true, "\(message)")
        }
    }
}
