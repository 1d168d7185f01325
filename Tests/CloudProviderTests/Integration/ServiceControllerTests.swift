import CloudProvider
import Foundation
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
import TestLab
import TestTraits
import Testing

/// Each test runs against the in-memory API server and, unless `scripts/test --unit`, against kube-apiserver;
/// the two that need RBAC only against kube-apiserver.
@Suite("Service controller")
struct ServiceControllerTests {
    @Test(arguments: Backend.available) func servicesGetAddressesAndGiveThemBack(_ backend: Backend) async throws {
        let h = try await ControllerHarness.make(backend)
        let (_, task) = h.start(try h.configuration())
        defer { task.cancel() }

        _ = try await h.loadBalancer("hello-world")
        #expect(try await eventually { try await h.ingress("hello-world") == ["10.210.1.65"] })
        let hello = try #require(try await h.service("hello-world"))
        #expect(hello.metadata.finalizers.contains(ControllerConfiguration.finalizer))
        #expect(hello.status.conditions.first { $0.type == ControllerConfiguration.conditionType }?.status == .true)
        #expect(try await eventually { try await h.configMapData() == ["10.210.1.65": "\(h.namespace)/hello-world"] })
        #expect(
            try await eventually {
                Set(try await h.events(for: "hello-world").compactMap(\.reason)).isSuperset(of: [
                    "EnsuringLoadBalancer", "EnsuredLoadBalancer",
                ])
            })

        _ = try await h.loadBalancer("second")
        #expect(try await eventually { try await h.ingress("second") == ["10.210.1.66"] })

        // A ClusterIP Service is none of our business.
        var plain = Service()
        plain.metadata = ObjectMeta(name: "plain", namespace: h.namespace)
        plain.spec.ports = [ServicePort(port: 80)]
        _ = try await h.admin.create(plain)

        // Deleting releases: the finalizer is removed, the entry leaves the ConfigMap, the address is reused.
        try await h.admin.delete(Service.self, namespace: h.namespace, name: "hello-world")
        #expect(try await eventually { try await h.service("hello-world") == nil })
        #expect(try await eventually { try await h.configMapData() == ["10.210.1.66": "\(h.namespace)/second"] })
        _ = try await h.loadBalancer("third")
        #expect(try await eventually { try await h.ingress("third") == ["10.210.1.65"] })
        #expect(try await h.service("plain")?.metadata.finalizers.isEmpty == true)
    }

    @Test(arguments: Backend.available) func aBurstCostsOneStatusWriteEachAndFewConfigMapWrites(_ backend: Backend)
        async throws
    {
        let h = try await ControllerHarness.make(backend)
        let (controller, task) = h.start(try h.configuration())
        defer { task.cancel() }
        let names = (0..<30).map { "burst-\($0)" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for name in names { group.addTask { _ = try await h.loadBalancer(name) } }
            try await group.waitForAll()
        }
        var seen: [String] = []
        #expect(
            try await eventually {
                seen = try await h.admin.list(Service.self, namespace: h.namespace).items.compactMap {
                    $0.status.loadBalancer.ingress.first?.ip
                }
                return seen.count == names.count
            })
        #expect(Set(seen).count == names.count)
        #expect(try await eventually { try await h.configMapData().count == names.count })
        // Late watch events of the controller's own writes must not cause a second status write.
        try await Task.sleep(for: .seconds(1))
        #expect(await controller.statusWrites == names.count)
        #expect(await controller.configMapWrites < names.count)
        // The finalizer went on with the status: kube-apiserver v1.20 keeps metadata in a Service's /status
        // PATCH. A server that keeps it out (the in-memory one, as CRDs do) costs a finalizer write each.
        let services = try await h.admin.list(Service.self, namespace: h.namespace).items
        #expect(services.allSatisfy { $0.metadata.finalizers == [ControllerConfiguration.finalizer] })
        #expect(await controller.finalizerWrites == (backend == .kubeAPIServer ? 0 : names.count))
    }

    /// A status never names an address the ConfigMap does not hold: while the ConfigMap cannot be
    /// written the Service waits (no address, and no finalizer: that goes on with the status), and gets it once
    /// writing works again.
    @Test(.integration, .tags(.integration)) func statusWaitsForTheConfigMapAndFollowsOnceItCanBeWritten() async throws
    {
        let h = try await ControllerHarness.make()
        try await h.realCluster.bindDeployRole(
            "keepalived-cloud-provider", to: "klb-controller", namespace: h.namespace)
        let (_, task) = h.start(try h.configuration(), client: try h.realCluster.controllerClient())
        defer { task.cancel() }
        _ = try await h.loadBalancer("first")
        #expect(try await eventually { try await h.ingress("first") == ["10.210.1.65"] })

        // The namespaced Role is what allows writing the ConfigMap; Services stay writable.
        try await h.realCluster.unbindDeployRole(user: "klb-controller", namespace: h.namespace)
        _ = try await h.loadBalancer("second")
        // The owner is told why, as upstream's service controller would.
        #expect(
            try await eventually {
                try await h.events(for: "second").contains {
                    $0.reason == "SyncLoadBalancerFailed" && $0.type == "Warning"
                        && ($0.message ?? "").contains("configmaps")
                }
            })
        #expect(try await h.ingress("second").isEmpty)
        #expect(try await h.configMapData()["10.210.1.66"] == nil)
        #expect(try await h.service("second")?.metadata.finalizers.isEmpty == true, "it goes on with the status")

        try await h.realCluster.bindDeployRole(
            "keepalived-cloud-provider", to: "klb-controller", namespace: h.namespace)
        #expect(try await eventually { try await h.ingress("second") == ["10.210.1.66"] })
        #expect(try await h.configMapData()["10.210.1.66"] == "\(h.namespace)/second")
        #expect(try await h.service("second")?.metadata.finalizers == [ControllerConfiguration.finalizer])
    }

    @Test(arguments: Backend.available) func changingTheTypeAwayReleasesAndCleansStatus(_ backend: Backend) async throws
    {
        let h = try await ControllerHarness.make(backend)
        let (controller, task) = h.start(try h.configuration())
        defer { task.cancel() }
        _ = try await h.loadBalancer("flip")
        #expect(try await eventually { try await h.ingress("flip") == ["10.210.1.65"] })
        _ = try await h.admin.patch(
            Service.self, namespace: h.namespace, name: "flip",
            .merge(["spec": ["type": "ClusterIP", "ports": [["port": 8080, "nodePort": nil]]]]))
        #expect(
            try await eventually {
                let s = try await h.service("flip")
                return s?.status.loadBalancer.ingress.isEmpty == true && s?.metadata.finalizers.isEmpty == true
            })
        #expect(try await eventually { try await h.configMapData().isEmpty })
        #expect(await controller.usage(.ipv4).used == 0)
    }

    @Test(arguments: Backend.available) func requestedAddressesAreHonouredButNeverStolen(_ backend: Backend)
        async throws
    {
        let h = try await ControllerHarness.make(backend)
        let (_, task) = h.start(try h.configuration())
        defer { task.cancel() }
        let annotation = ControllerConfiguration.requestedIPsAnnotation
        _ = try await h.loadBalancer("owner", annotations: [annotation: "10.210.1.100"])
        #expect(try await eventually { try await h.ingress("owner") == ["10.210.1.100"] })
        _ = try await h.loadBalancer("thief", annotations: [annotation: "10.210.1.100"])
        _ = try await h.loadBalancer("outside") { $0.spec.loadBalancerIP = "203.0.113.7" }
        _ = try await h.loadBalancer("garbage", annotations: [annotation: "10.210.1.999\n}"])
        _ = try await h.loadBalancer("innocent")

        #expect(
            try await eventually {
                try await h.events(for: "thief").contains {
                    $0.reason == "AllocationFailed"
                        && $0.message?.contains("already allocated to \(h.namespace)/owner") == true
                }
            })
        #expect(
            try await eventually {
                try await h.events(for: "outside").contains {
                    $0.reason == "AllocationFailed" && $0.message?.contains("203.0.113.7") == true
                }
            })
        #expect(
            try await eventually {
                try await h.events(for: "garbage").contains {
                    $0.reason == "InvalidRequestedIP" && $0.type == "Warning"
                }
            })
        // The event is recorded just before the condition is written: wait for the condition too.
        #expect(
            try await eventually {
                try await h.service("garbage")?.status.conditions.first {
                    $0.type == ControllerConfiguration.conditionType
                }?.status == .false
            })
        #expect(try await h.ingress("thief").isEmpty)
        #expect(try await h.ingress("owner") == ["10.210.1.100"])
        // One bad Service harms nobody else.
        #expect(try await eventually { try await h.ingress("innocent") == ["10.210.1.65"] })
    }

    @Test(arguments: Backend.available) func forwardMethodIsHonouredOnCreate(_ backend: Backend) async throws {
        let h = try await ControllerHarness.make(backend)
        let (_, task) = h.start(try h.configuration(forward: "NAT"))
        defer { task.cancel() }
        _ = try await h.loadBalancer("direct", annotations: [ForwardMethod.annotation: "DR"])
        _ = try await h.loadBalancer("defaulted")
        // Two workers: which of the two gets .65 is a race, the methods are not.
        #expect(
            try await eventually {
                let data = try await h.configMapData()
                return Set(data.values) == ["\(h.namespace)/direct:DR", "\(h.namespace)/defaulted:NAT"]
                    && Set(data.keys) == ["10.210.1.65", "10.210.1.66"]
            })
    }

    @Test(arguments: Backend.available) func upgradeFromThePredecessorKeepsEveryAddress(_ backend: Backend) async throws
    {
        let h = try await ControllerHarness.make(backend)
        let a = try await h.loadBalancer("test")
        let b = try await h.loadBalancer("other")
        // What the Go provider left: its ledger annotation and the kube-keepalived-vip data.
        let ledger = LegacyLedger(records: [
            .init(
                uid: a.metadata.uid!, ip: "10.210.1.70", serviceNamespace: h.namespace, serviceName: "test",
                forwardMethod: "DR"),
            .init(
                uid: b.metadata.uid!, ip: "10.210.1.71", serviceNamespace: h.namespace, serviceName: "other",
                forwardMethod: nil),
            .init(
                uid: "gone", ip: "10.210.1.72", serviceNamespace: h.namespace, serviceName: "deleted-meanwhile",
                forwardMethod: nil),
        ])
        var cm = ConfigMap(
            name: "vip-configmap", namespace: h.namespace,
            data: [
                "10.210.1.70": "\(h.namespace)/test:DR", "10.210.1.71": "\(h.namespace)/other",
                "10.210.1.72": "\(h.namespace)/deleted-meanwhile",
            ])
        cm.metadata.annotations = [LegacyLedger.annotation: ledger.json()]
        _ = try await h.admin.create(cm)

        let (_, task) = h.start(try h.configuration())
        defer { task.cancel() }
        #expect(try await eventually { try await h.ingress("test") == ["10.210.1.70"] })
        #expect(try await eventually { try await h.ingress("other") == ["10.210.1.71"] })
        _ = try await h.loadBalancer("new")
        #expect(try await eventually { try await h.ingress("new") == ["10.210.1.65"] })
        #expect(
            try await eventually {
                try await h.configMapData() == [
                    "10.210.1.70": "\(h.namespace)/test:DR", "10.210.1.71": "\(h.namespace)/other",
                    "10.210.1.65": "\(h.namespace)/new",
                ]
            })
    }

    @Test(arguments: Backend.available) func deletionWhileDownIsCleanedUpOnStartAndNothingLeaks(_ backend: Backend)
        async throws
    {
        let h = try await ControllerHarness.make(backend)
        var (first, task) = h.start(try h.configuration())
        for i in 0..<5 { _ = try await h.loadBalancer("svc-\(i)") }
        #expect(await eventually { await first.usage(.ipv4).used == 5 })
        #expect(try await eventually { try await h.ingress("svc-4").count == 1 })
        task.cancel()
        _ = await task.result

        // While no controller runs: one deleted (held by our finalizer), one new.
        try await h.admin.delete(Service.self, namespace: h.namespace, name: "svc-2")
        _ = try await h.loadBalancer("late")

        (first, task) = h.start(try h.configuration())
        defer { task.cancel() }
        #expect(try await eventually { try await h.service("svc-2") == nil })
        #expect(try await eventually { try await h.ingress("late").count == 1 })
        var seen: [String: String] = [:]
        for name in ["svc-0", "svc-1", "svc-3", "svc-4", "late"] {
            let ips = try await h.ingress(name)
            #expect(ips.count == 1, "\(name)")
            for ip in ips {
                #expect(seen[ip] == nil, "\(ip) given to \(name) and \(seen[ip] ?? "")")
                seen[ip] = name
            }
        }
        #expect(await first.usage(.ipv4).used == 5)
        #expect(try await eventually { try await h.configMapData().count == 5 })
    }

    /// The ConfigMap is the controller's output: an edit or a deletion by hand is undone at once,
    /// while keys that are not VIPs (other tools' settings) are kept.
    @Test(arguments: Backend.available) func manualEditsOfTheConfigMapAreUndone(_ backend: Backend) async throws {
        let h = try await ControllerHarness.make(backend)
        let (controller, task) = h.start(try h.configuration())
        defer { task.cancel() }
        _ = try await h.loadBalancer("web")
        #expect(try await eventually { try await h.configMapData() == ["10.210.1.65": "\(h.namespace)/web"] })
        let writes = await controller.configMapWrites

        var edited = try await h.admin.get(ConfigMap.self, namespace: h.namespace, name: "vip-configmap")
        edited.data["10.210.1.65"] = nil
        edited.data["10.210.1.99"] = "\(h.namespace)/intruder"
        edited.data["operator-setting"] = "keep me"
        _ = try await h.admin.update(edited)
        #expect(
            try await eventually {
                try await h.configMapData() == ["10.210.1.65": "\(h.namespace)/web", "operator-setting": "keep me"]
            })
        // One repair, not a fight with our own watch events.
        try await Task.sleep(for: .seconds(1))
        let after = await controller.configMapWrites
        #expect(after > writes && after <= writes + 2, "\(writes) → \(after) writes")

        // Undone, and said so: an event on the ConfigMap naming what was put back and taken out.
        #expect(
            try await eventually {
                try await h.events(for: "vip-configmap").contains {
                    $0.reason == "ConfigMapRepaired" && $0.type == "Warning" && $0.involvedObject.kind == "ConfigMap"
                        && $0.message?.contains("restored 10.210.1.65") == true
                        && $0.message?.contains("removed 10.210.1.99") == true
                }
            })

        // The next write starts from the writer's copy of its last one (VIPs and plan left out): the
        // operator's key is still there, and the plan carries the new VIP.
        _ = try await h.loadBalancer("api")
        #expect(
            try await eventually {
                try await h.configMapData() == [
                    "10.210.1.65": "\(h.namespace)/web", "10.210.1.66": "\(h.namespace)/api",
                    "operator-setting": "keep me",
                ]
            })
        #expect(
            try await h.plan()?.instances.flatMap(\.addresses).map(\.description).sorted() == [
                "10.210.1.65", "10.210.1.66",
            ])
        if backend == .kubeAPIServer {
            // That base leaves managedFields out; kube-apiserver keeps tracking them (the in-memory server has none).
            let written = try await h.admin.get(ConfigMap.self, namespace: h.namespace, name: "vip-configmap")
            let managed = written.json["metadata"]?.objectValue?["managedFields"]?.arrayValue ?? []
            #expect(managed.contains { "\($0)".contains("f:10.210.1.66") }, "\(managed)")
        }

        try await h.admin.delete(ConfigMap.self, namespace: h.namespace, name: "vip-configmap")
        #expect(
            try await eventually {
                try await h.configMapData() == [
                    "10.210.1.65": "\(h.namespace)/web", "10.210.1.66": "\(h.namespace)/api",
                ]
            })
        #expect(
            try await h.plan()?.instances.flatMap(\.addresses).map(\.description).sorted() == [
                "10.210.1.65", "10.210.1.66",
            ])
        #expect(
            try await eventually {
                try await h.events(for: "vip-configmap").contains {
                    $0.reason == "ConfigMapRepaired" && $0.message?.contains("deleted") == true
                }
            })
    }

    /// What is being served wins a restart: a stale record in the predecessor's ledger annotation
    /// (and a status edited to another Service's address) used to beat the status and data the
    /// agents serve, so two Services swapped addresses.
    @Test(arguments: Backend.available) func restoreKeepsWhatIsServedOverStaleRecords(_ backend: Backend) async throws {
        let h = try await ControllerHarness.make(backend)
        var (_, task) = h.start(try h.configuration())
        let old = try await h.loadBalancer("old")
        #expect(try await eventually { try await h.ingress("old") == ["10.210.1.65"] })
        try await Task.sleep(for: .milliseconds(1100))  // creation times have one-second resolution
        _ = try await h.loadBalancer("young")
        #expect(try await eventually { try await h.ingress("young") == ["10.210.1.66"] })
        task.cancel()
        _ = await task.result

        // While the controller is away: the older Service's records point at the younger one's address.
        var cm = try await h.admin.get(ConfigMap.self, namespace: h.namespace, name: "vip-configmap")
        cm.metadata.annotations[LegacyLedger.annotation] = LegacyLedger(records: [
            .init(
                uid: old.metadata.uid!, ip: "10.210.1.66", serviceNamespace: h.namespace, serviceName: "old",
                forwardMethod: nil)
        ]).json()
        _ = try await h.admin.update(cm)
        _ = try await h.admin.patch(
            Service.self, namespace: h.namespace, name: "old",
            .merge(["status": ["loadBalancer": ["ingress": [["ip": "10.210.1.66"]]]]]), subresource: "status")

        (_, task) = h.start(try h.configuration())
        defer { task.cancel() }
        #expect(
            try await eventually { try await h.ingress("old") == ["10.210.1.65"] },
            "old keeps what the ConfigMap serves for it")
        #expect(try await h.ingress("young") == ["10.210.1.66"], "young keeps what is served for it")
        #expect(
            try await eventually {
                try await h.events(for: "old").contains {
                    $0.reason == "IPConflict" && $0.message?.contains("Service \(h.namespace)/young keeps it") == true
                        && $0.message?.contains("being served") == true
                }
            })
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await h.ingress("young") == ["10.210.1.66"])
        #expect(
            try await h.configMapData() == ["10.210.1.65": "\(h.namespace)/old", "10.210.1.66": "\(h.namespace)/young"])
    }

    /// Where the newer Service's claim on the older one's address is found at restore.
    enum ClaimedIn: String, CaseIterable, Sendable {
        case status
        case configMap
        /// A ConfigMap record of an address outside the pools (the older Service keeps its status's address):
        /// once dropped with a log line only, so the newer Service got a new address and no word why.
        case configMapOutsidePools
    }

    /// Two Services claim one address at restore: the older keeps it, and the newer, which gets another
    /// address, is told why (IPConflict naming the address), wherever its claim was found.
    @Test(arguments: Backend.available, ClaimedIn.allCases)
    func aRestoredConflictIsExplainedToTheServiceThatLost(_ backend: Backend, claimedIn: ClaimedIn) async throws {
        let h = try await ControllerHarness.make(backend)
        let contested = claimedIn == .configMapOutsidePools ? "10.210.9.9" : "10.210.1.70"
        _ = try await h.loadBalancer("first")
        try await Task.sleep(for: .milliseconds(1100))  // creation times have one-second resolution
        _ = try await h.loadBalancer("second")
        _ = try await h.admin.patch(
            Service.self, namespace: h.namespace, name: "first",
            .merge(["status": ["loadBalancer": ["ingress": [["ip": .string(contested)]]]]]), subresource: "status")
        switch claimedIn {
        case .status:
            _ = try await h.admin.patch(
                Service.self, namespace: h.namespace, name: "second",
                .merge(["status": ["loadBalancer": ["ingress": [["ip": .string(contested)]]]]]), subresource: "status")
        case .configMap, .configMapOutsidePools:
            var map = ConfigMap()
            map.metadata = ObjectMeta(name: "vip-configmap", namespace: h.namespace)
            map.data = [contested: "\(h.namespace)/second"]
            _ = try await h.admin.create(map)
        }
        let (_, task) = h.start(try h.configuration())
        defer { task.cancel() }
        #expect(
            try await eventually {
                let second = try await h.ingress("second")
                return second.count == 1 && second != [contested]
            })
        #expect(try await h.ingress("first") == [contested])
        #expect(
            try await eventually {
                try await h.events(for: "second").contains {
                    $0.reason == "IPConflict" && $0.message?.contains(contested) == true
                }
            })
    }

    /// An IPv4-only Service (by its ClusterIP: v1.20 drops spec.ipFamilies) that asks for an IPv6
    /// address is refused: kube-proxy would never serve it. Others are unaffected.
    @Test(arguments: Backend.available) func aRequestedAddressOfTheWrongFamilyIsRefused(_ backend: Backend) async throws
    {
        let h = try await ControllerHarness.make(backend)
        let (_, task) = h.start(try h.configuration(cidrs: ["10.210.1.64/26", "2001:db8:1::/120"]))
        defer { task.cancel() }
        let annotation = ControllerConfiguration.requestedIPsAnnotation
        let wrong = try await h.loadBalancer("wrong-family", annotations: [annotation: "2001:db8:1::10"])
        #expect(try IPAddress(#require(wrong.spec.clusterIP)).family == .ipv4, "the test server gives IPv4 ClusterIPs")
        _ = try await h.loadBalancer("bystander")
        #expect(
            try await eventually {
                try await h.events(for: "wrong-family").contains {
                    $0.reason == "IPFamilyMismatch" && $0.type == "Warning" && $0.message?.contains("IPv4 only") == true
                }
            })
        #expect(
            try await eventually {
                try await h.service("wrong-family")?.status.conditions.first {
                    $0.type == ControllerConfiguration.conditionType
                }?.reason
                    == "IPFamilyMismatch"
            })
        #expect(try await h.ingress("wrong-family").isEmpty)
        #expect(try await eventually { try await h.ingress("bystander") == ["10.210.1.65"] })
        #expect(try await h.configMapData() == ["10.210.1.65": "\(h.namespace)/bystander"])
    }

    /// A 100 KB annotation does not become a 100 KB event; control characters arrive escaped.
    @Test(arguments: Backend.available) func eventMessagesAreBoundedAndEscaped(_ backend: Backend) async throws {
        let h = try await ControllerHarness.make(backend)
        let (_, task) = h.start(try h.configuration())
        defer { task.cancel() }
        let huge = "\n}\u{1b}[2J" + String(repeating: "N", count: 100_000)
        _ = try await h.loadBalancer("huge", annotations: [ForwardMethod.annotation: huge])
        _ = try await h.loadBalancer("bystander")
        #expect(
            try await eventually { try await h.events(for: "huge").contains { $0.reason == "InvalidForwardMethod" } })
        let event = try #require(try await h.events(for: "huge").first { $0.reason == "InvalidForwardMethod" })
        let message = try #require(event.message)
        #expect(message.utf8.count <= SafeText.eventMessageLimit + 32, "\(message.utf8.count) bytes")
        #expect(
            !message.contains("\n") && !message.contains("\u{1b}"), "control characters escaped: \(message.prefix(80))")
        #expect(try await eventually { try await h.ingress("bystander") == ["10.210.1.65"] })
    }

    @Test(.integration, .tags(.integration)) func runsUnderTheLeastPrivilegeRoleFromDeploy() async throws {
        let h = try await ControllerHarness.make()
        try await h.realCluster.bindDeployRole(
            "keepalived-cloud-provider", to: "klb-controller", namespace: h.namespace)

        let restricted = try h.realCluster.controllerClient()
        let (_, task) = h.start(try h.configuration(), client: restricted)
        defer { task.cancel() }
        _ = try await h.loadBalancer("least-privilege")
        #expect(try await eventually { try await h.ingress("least-privilege") == ["10.210.1.65"] })
        #expect(
            try await eventually { try await h.configMapData() == ["10.210.1.65": "\(h.namespace)/least-privilege"] })
        #expect(
            try await eventually {
                try await h.events(for: "least-privilege").contains { $0.reason == "EnsuredLoadBalancer" }
            })
        try await h.admin.delete(Service.self, namespace: h.namespace, name: "least-privilege")
        #expect(try await eventually { try await h.service("least-privilege") == nil })
    }

    /// A DNS server's TCP/53 and UDP/53 in one Service (MixedProtocolLBService, on in the test server):
    /// one address, one ConfigMap entry, one VIP in the plan.
    @Test(arguments: Backend.available) func aServiceWithTCPAndUDPPortsGetsOneAddress(_ backend: Backend) async throws {
        let h = try await ControllerHarness.make(backend)
        let (_, task) = h.start(try h.configuration())
        defer { task.cancel() }
        let created = try await h.loadBalancer("dns") {
            $0.spec.ports = [
                ServicePort(name: "dns-tcp", protocol: "TCP", port: 53, targetPort: 53),
                ServicePort(name: "dns-udp", protocol: "UDP", port: 53, targetPort: 53),
            ]
        }
        #expect(created.spec.ports.count == 2, "the server kept both protocols")
        #expect(try await eventually { try await h.ingress("dns") == ["10.210.1.65"] })
        #expect(try await eventually { try await h.configMapData() == ["10.210.1.65": "\(h.namespace)/dns"] })
        let plan = try #require(try await h.plan())
        #expect(plan.instances.flatMap(\.addresses).map(\.description) == ["10.210.1.65"])
    }
}
