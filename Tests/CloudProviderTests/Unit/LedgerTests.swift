import CloudProvider
import IPAM
import Keepalived
import KubeClient
import Testing

@Suite("Ledger and requests (no I/O)")
struct LedgerTests {
    static let pool = try! Pool.parse(["10.210.1.64/26", "2001:db8:1::/120"]).pool

    @Test func ensureKeepsWhatStillFitsAndIsAllOrNothing() throws {
        var ledger = Ledger(pool: Self.pool)
        let v4 = try ledger.ensure("default/a", uid: "u1", request: LoadBalancerRequest(families: [.ipv4]))
        #expect(v4.map(\.description) == ["10.210.1.65"])
        #expect(try ledger.ensure("default/a", uid: "u1", request: LoadBalancerRequest(families: [.ipv4])) == v4)
        let dual = try ledger.ensure("default/a", uid: "u1", request: LoadBalancerRequest(families: [.ipv4, .ipv6]))
        #expect(dual.map(\.description) == ["10.210.1.65", "2001:db8:1::1"])
        // Asking for an address someone else holds changes nothing.
        let before = ledger.generation
        #expect(throws: IPAMError.self) {
            try ledger.ensure(
                "default/b", uid: "u2",
                request: LoadBalancerRequest(families: [.ipv4], requested: [try IPAddress("10.210.1.65")]))
        }
        #expect(ledger.generation == before)
        #expect(ledger.records["default/b"] == nil)
        #expect(ledger.release("default/a").count == 2)
        #expect(ledger.allocator.usage(.ipv4).used == 0)
    }

    @Test func aFailedMoveGivesEverythingBack() throws {
        var ledger = Ledger(pool: Self.pool)
        let first = try IPAddress("10.210.1.65")
        let v6 = try IPAddress("2001:db8:1::1")
        _ = try ledger.ensure(
            "default/b", uid: "u2", request: LoadBalancerRequest(families: [.ipv4, .ipv6], requested: [first, v6]))
        let held = try ledger.ensure("default/a", uid: "u1", request: LoadBalancerRequest(families: [.ipv4]))
        // Moving to b's address fails after a's own address was freed: a keeps it.
        #expect(throws: IPAMError.self) {
            try ledger.ensure(
                "default/a", uid: "u1", request: LoadBalancerRequest(families: [.ipv4], requested: [first]))
        }
        #expect(ledger.allocator.owner(of: held[0]) == "default/a")
        // Dual-stack where the IPv6 request fails after a fresh IPv4 was taken: that IPv4 goes back.
        let usedBefore = ledger.allocator.usage(.ipv4).used
        #expect(throws: IPAMError.self) {
            try ledger.ensure(
                "default/c", uid: "u3",
                request: LoadBalancerRequest(families: [.ipv4, .ipv6], requested: [try IPAddress("10.210.1.80"), v6]))
        }
        #expect(ledger.allocator.usage(.ipv4).used == usedBefore)
        #expect(ledger.allocator.owner(of: try IPAddress("10.210.1.80")) == nil)
        #expect(ledger.records["default/a"]?.addresses == held)
    }

    @Test func restoreKeepsTheFirstClaimant() throws {
        var ledger = Ledger(pool: Self.pool)
        let ip = try IPAddress("10.210.1.70")
        let report = ledger.restore([
            .init(key: "default/old", uid: "1", address: ip, forwardMethod: .dr),
            .init(key: "default/young", uid: "2", address: ip, forwardMethod: nil),
            .init(key: "default/far", uid: "3", address: try IPAddress("192.0.2.1"), forwardMethod: nil),
        ])
        #expect(report.conflicts.map(\.holder) == ["default/old"])
        #expect(report.outsidePool.map(\.key) == ["default/far"])
        #expect(ledger.records["default/old"]?.forwardMethod == .dr)
        #expect(VIPConfigMapFormat.encode(ledger.entries) == ["10.210.1.70": "default/old:DR"])
    }

    static func service(_ build: (inout Service) -> Void) -> Service {
        var service = Service()
        service.metadata = ObjectMeta(name: "s", namespace: "default")
        service.spec.type = .loadBalancer
        service.spec.ipFamilies = ["IPv4"]
        build(&service)
        return service
    }

    @Test func requestsFromSpecAndAnnotations() throws {
        #expect(
            try LoadBalancerRequest(service: Self.service { _ in }, pool: Self.pool, defaultForwardMethod: .nat)
                == LoadBalancerRequest(families: [.ipv4], forwardMethod: .nat))
        #expect(
            try LoadBalancerRequest(
                service: Self.service { $0.spec.ipFamilyPolicy = .preferDualStack }, pool: Self.pool,
                defaultForwardMethod: nil
            ).families == [.ipv4, .ipv6])
        let v4only = try Pool.parse(["10.210.1.64/26"]).pool
        #expect(
            try LoadBalancerRequest(
                service: Self.service { $0.spec.ipFamilyPolicy = .preferDualStack }, pool: v4only,
                defaultForwardMethod: nil
            ).families == [.ipv4])
        #expect {
            try LoadBalancerRequest(
                service: Self.service { $0.spec.ipFamilyPolicy = .requireDualStack }, pool: v4only,
                defaultForwardMethod: nil)
        } throws: {
            ($0 as! ServiceRefusal).code == .dualStackUnavailable
        }
        let requested = try LoadBalancerRequest(
            service: Self.service {
                $0.spec.ipFamilies = ["IPv4", "IPv6"]
                $0.spec.ipFamilyPolicy = .preferDualStack
                $0.metadata.annotations = [
                    ControllerConfiguration.requestedIPsAnnotation: "10.210.1.100, 2001:db8:1::9",
                    ForwardMethod.annotation: "dr",
                ]
            }, pool: Self.pool, defaultForwardMethod: .nat)
        #expect(requested.requested.map(\.description) == ["10.210.1.100", "2001:db8:1::9"])
        #expect(requested.families == [.ipv4, .ipv6])
        #expect(requested.forwardMethod == .dr)
        #expect(
            try LoadBalancerRequest(
                service: Self.service { $0.spec.loadBalancerIP = "10.210.1.90" }, pool: Self.pool,
                defaultForwardMethod: nil
            ).requested.map(\.description) == ["10.210.1.90"])
    }

    /// An address kube-proxy would never serve: the family comes from spec.ipFamilies, else from
    /// the ClusterIPs (a server without dual-stack drops ipFamilies); headless says nothing.
    @Test func aRequestedAddressOfAFamilyTheServiceLacksIsRefused() throws {
        let byFamilies = Self.service {
            $0.metadata.annotations = [ControllerConfiguration.requestedIPsAnnotation: "2001:db8:1::9"]
        }
        let byClusterIP = Self.service {
            $0.spec.ipFamilies = nil
            $0.spec.clusterIP = "10.96.0.10"
            $0.spec.loadBalancerIP = "2001:db8:1::9"
        }
        let dualRequestOnSingle = Self.service {
            $0.metadata.annotations = [ControllerConfiguration.requestedIPsAnnotation: "10.210.1.100,2001:db8:1::9"]
        }
        for service in [byFamilies, byClusterIP, dualRequestOnSingle] {
            #expect { try LoadBalancerRequest(service: service, pool: Self.pool, defaultForwardMethod: nil) } throws: {
                let invalid = $0 as! ServiceRefusal
                return invalid.code == .ipFamilyMismatch && invalid.message.contains("2001:db8:1::9 (IPv6)")
                    && invalid.message.contains("IPv4 only")
            }
        }
        let v6Service = Self.service {
            $0.spec.ipFamilies = nil
            $0.spec.clusterIPs = ["fd00::10"]
            $0.spec.loadBalancerIP = "2001:db8:1::9"
        }
        #expect(
            try LoadBalancerRequest(service: v6Service, pool: Self.pool, defaultForwardMethod: nil).families == [.ipv6])
        let headless = Self.service {
            $0.spec.ipFamilies = nil
            $0.spec.clusterIP = "None"
            $0.spec.loadBalancerIP = "2001:db8:1::9"
        }
        #expect(
            try LoadBalancerRequest(service: headless, pool: Self.pool, defaultForwardMethod: nil).families == [.ipv6])
    }

    @Test(
        "bad annotations are refused with a reason",
        arguments: [
            ([ControllerConfiguration.requestedIPsAnnotation: "10.210.1.300"], ServiceRefusal.Code.invalidRequestedIP),
            ([ControllerConfiguration.requestedIPsAnnotation: "10.210.1.65,10.210.1.66"], .invalidRequestedIP),
            ([ForwardMethod.annotation: "TUN\n}"], .invalidForwardMethod),
        ])
    func invalid(annotations: [String: String], code: ServiceRefusal.Code) {
        #expect {
            try LoadBalancerRequest(
                service: Self.service { $0.metadata.annotations = annotations }, pool: Self.pool,
                defaultForwardMethod: nil)
        } throws: {
            ($0 as! ServiceRefusal).code == code
        }
    }
}

/// spec.loadBalancerClass on objects (InMemoryControllerTests shows it end to end; v1.20 drops the field).
@Suite("Load balancer class (no I/O)")
struct LoadBalancerClassTests {
    static func service(type: ServiceType = .loadBalancer, class name: String?) -> Service {
        var service = Service()
        service.spec.type = type
        service.spec.loadBalancerClass = name
        return service
    }

    @Test func withoutTheFlagOnlyClasslessServicesAreServedWithItOnlyThatClass() throws {
        let pool = try Pool.parse(["10.210.1.64/26"]).pool
        let unset = ControllerConfiguration(pool: pool)
        #expect(unset.serves(Self.service(class: nil)))
        #expect(!unset.serves(Self.service(class: "example.com/other")), "another implementation's")
        #expect(!unset.serves(Self.service(type: .clusterIP, class: nil)))
        let set = ControllerConfiguration(pool: pool, loadBalancerClass: "keepalived-lb.io/vrrp")
        #expect(set.serves(Self.service(class: "keepalived-lb.io/vrrp")))
        #expect(!set.serves(Self.service(class: nil)) && !set.serves(Self.service(class: "example.com/other")))
    }
}
