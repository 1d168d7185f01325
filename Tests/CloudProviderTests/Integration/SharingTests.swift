import CloudProvider
import Foundation
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
import TestLab
import TestTraits
import Testing

@Suite("IP sharing in the ledger (no I/O)")
struct SharingLedgerTests {
    static let pool = try! Pool.parse(name: "lab", ["203.0.113.0/28"]).pool

    static func request(_ key: String?, _ ports: [PortKey], requested: [IPAddress] = []) -> LoadBalancerRequest {
        var request = LoadBalancerRequest(families: [.ipv4], requested: requested)
        request.sharingKey = key
        request.ports = ports
        return request
    }

    static let tcp53 = PortKey(proto: "TCP", port: 53)
    static let udp53 = PortKey(proto: "UDP", port: 53)

    /// The ConfigMap carries a shared address once, for the first key in key order (not the first created), and
    /// every address in address order, whatever order the records were made in.
    @Test func aSharedAddressIsCarriedForItsFirstKeyInAddressOrder() throws {
        var ledger = Ledger(pool: Self.pool)
        _ = try ledger.ensure("web/zeta", uid: "1", request: LoadBalancerRequest(families: [.ipv4]))
        _ = try ledger.ensure("dns/udp", uid: "2", request: Self.request("dns", [Self.udp53]))
        _ = try ledger.ensure("dns/tcp", uid: "3", request: Self.request("dns", [Self.tcp53]))
        _ = try ledger.ensure("web/alpha", uid: "4", request: LoadBalancerRequest(families: [.ipv4]))
        #expect(
            ledger.entries.map { "\($0.address) \($0.namespace)/\($0.name)" } == [
                "203.0.113.1 web/zeta", "203.0.113.2 dns/tcp", "203.0.113.3 web/alpha",
            ])
    }

    @Test func tcpAndUDPOfOneKeyShareAndACollidingPortIsRefusedNamingTheOther() throws {
        var ledger = Ledger(pool: Self.pool)
        let tcp = try ledger.ensure("dns/tcp", uid: "1", request: Self.request("dns", [Self.tcp53]))
        let udp = try ledger.ensure("dns/udp", uid: "2", request: Self.request("dns", [Self.udp53]))
        #expect(tcp == udp && tcp.map(\.description) == ["203.0.113.1"])
        #expect(ledger.allocator.usage(.ipv4).used == 1, "one address for both")
        #expect(ledger.entries.map(\.name) == ["tcp"], "the plan and the old format carry it once, for the first")
        let refusal = ledger.sharingPreflight(
            "dns/again", request: Self.request("dns", [Self.tcp53]), crossNamespacePools: [])
        #expect(refusal?.code == .sharingPortConflict && refusal?.message.contains("dns/tcp") == true)
        #expect(refusal?.message.contains("TCP/53") == true)

        // Another namespace with the same key gets its own address (the pool does not allow sharing across).
        let other = try ledger.ensure("web/udp", uid: "3", request: Self.request("dns", [Self.udp53]))
        #expect(other.map(\.description) == ["203.0.113.2"])
        var open = Ledger(pool: Self.pool)
        _ = try open.ensure(
            "dns/tcp", uid: "1", request: Self.request("dns", [Self.tcp53]), crossNamespacePools: ["lab"])
        #expect(
            try open.ensure(
                "web/udp", uid: "3", request: Self.request("dns", [Self.udp53]), crossNamespacePools: ["lab"]
            )
            .map(\.description) == ["203.0.113.1"])

        // A requested address held under another key (or none) is refused naming its holder.
        let taken = ledger.sharingPreflight(
            "x/y", request: Self.request("other", [Self.udp53], requested: tcp), crossNamespacePools: [])
        #expect(taken?.code == .addressInUse && taken?.message.contains("dns/tcp") == true)

        // The address stays while one Service of the group holds it, and goes with the last.
        #expect(ledger.release("dns/tcp").isEmpty)
        #expect(ledger.owner(of: tcp[0]) == "dns/udp" && ledger.entries.contains { $0.address == tcp[0] })
        #expect(ledger.release("dns/udp") == tcp)
        #expect(ledger.owner(of: tcp[0]) == nil)
    }

    @Test func restoreKeepsAGroupTogether() throws {
        var ledger = Ledger(pool: Self.pool)
        let ip = try IPAddress("203.0.113.9")
        let report = ledger.restore([
            .init(key: "dns/tcp", uid: "1", address: ip, forwardMethod: nil, sharingKey: "dns", ports: [Self.tcp53]),
            .init(key: "dns/udp", uid: "2", address: ip, forwardMethod: nil, sharingKey: "dns", ports: [Self.udp53]),
            .init(key: "dns/late", uid: "3", address: ip, forwardMethod: nil, sharingKey: "dns", ports: [Self.udp53]),
        ])
        #expect(ledger.records["dns/udp"]?.addresses == [ip] && ledger.records["dns/tcp"]?.addresses == [ip])
        #expect(report.conflicts.map(\.claim.key) == ["dns/late"], "a colliding port is a conflict")
    }
}

/// Two Services of a DNS server, TCP/53 and UDP/53, on one address: against the real API server.
@Suite("IP sharing against kube-apiserver", .integration, .tags(.integration))
struct SharingIntegrationTests {
    @Test func dnsOverTCPAndUDPSharesOneAddressUntilTheLastServiceGoes() async throws {
        let h = try await ControllerHarness.make()
        let (_, task) = h.start(try h.configuration())
        defer { task.cancel() }
        func dns(_ name: String, _ proto: String) async throws {
            _ = try await h.loadBalancer(name, annotations: [Sharing.annotation: "dns"]) {
                $0.spec.ports = [ServicePort(name: "dns", protocol: proto, port: 53, targetPort: 53)]
            }
        }
        try await dns("dns-tcp", "TCP")
        #expect(try await eventually { try await h.ingress("dns-tcp") == ["10.210.1.65"] })
        try await dns("dns-udp", "UDP")
        #expect(try await eventually { try await h.ingress("dns-udp") == ["10.210.1.65"] })
        #expect(try await eventually { try await h.configMapData() == ["10.210.1.65": "\(h.namespace)/dns-tcp"] })
        #expect(try await h.plan()?.instances.flatMap(\.addresses).map(\.description) == ["10.210.1.65"])

        try await dns("dns-tcp-again", "TCP")
        #expect(
            try await eventually {
                try await h.events(for: "dns-tcp-again").contains {
                    $0.reason == "SharingPortConflict" && ($0.message ?? "").contains("dns-tcp")
                        && ($0.message ?? "").contains("TCP/53")
                }
            })
        #expect(try await h.ingress("dns-tcp-again").isEmpty)

        try await h.admin.delete(Service.self, namespace: h.namespace, name: "dns-tcp")
        try await h.admin.delete(Service.self, namespace: h.namespace, name: "dns-tcp-again")
        #expect(try await eventually { try await h.configMapData() == ["10.210.1.65": "\(h.namespace)/dns-udp"] })
        #expect(try await h.ingress("dns-udp") == ["10.210.1.65"], "the address stays with the group's last Service")
        try await h.admin.delete(Service.self, namespace: h.namespace, name: "dns-udp")
        #expect(try await eventually { try await h.configMapData().isEmpty }, "released with the last")
    }
}
