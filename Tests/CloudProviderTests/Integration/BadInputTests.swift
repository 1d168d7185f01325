import CloudProvider
import Foundation
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
import TestLab
import TestTraits
import Testing

/// Bad input, row by row: what each gets (exit 2 and one line naming the flag or env var; a
/// Warning event and a False condition; refusal of the whole plan), and that nothing else is harmed.
/// The agent's rows (ConfigMap content, Node objects) are in NodeAgentTests' bad-input suite.
@Suite("Bad input: flags, environment, Services, plans")
struct BadInputTests {
    struct FlagRow: CustomTestStringConvertible, Sendable {
        let arguments: [String]
        let environment: [String: String]
        /// The one line must contain this (the flag or env var first).
        let says: String
        var testDescription: String { (environment.map { "\($0)=\($1)" } + arguments).joined(separator: " ") }

        init(_ arguments: [String], env: [String: String] = [:], says: String) {
            self.arguments = arguments
            environment = env
            self.says = says
        }
    }

    static let pool = ["--cidr", "10.210.1.64/26"]

    static let controllerRows: [FlagRow] = [
        FlagRow([], says: "no address pool: give --cidr"),
        FlagRow(["--cidr", "10.0.0.0/33"], says: "--cidr: prefix length /33 is out of range for IPv4"),
        FlagRow(["--cidr", "2001:db8::/129"], says: "--cidr: prefix length /129 is out of range for IPv6"),
        FlagRow(["--cidr", "10.0.0.5-10.0.0.1"], says: "--cidr: range 10.0.0.5-10.0.0.1 is backwards"),
        FlagRow(["--cidr", "banana"], says: "--cidr: \"banana\" is not an IPv4 address"),
        FlagRow(["--cidr", "10.0.0.1/24/5"], says: "--cidr: \"10.0.0.1/24/5\""),
        FlagRow(["--cidr", "10.0.0.1\n}"], says: "--cidr:"),
        FlagRow(pool + ["--exclude", "nope"], says: "--exclude: \"nope\" is not an IPv4 address"),
        FlagRow(
            pool + ["--default-forward-method", "TUN"],
            says: "--default-forward-method is \"TUN\"; allowed values are NAT and DR"),
        FlagRow(pool + ["--workers", "0"], says: "--workers 0: must be 1-64"),
        FlagRow(pool + ["--workers", "65"], says: "--workers 65: must be 1-64"),
        FlagRow(pool + ["--workers", "many"], says: "'many' is invalid for '--workers <workers>'"),
        FlagRow(pool + ["--vrid-range", "0-5"], says: "--vrid-range: VRID range 0-5 must lie within 1-255"),
        FlagRow(pool + ["--vrid-range", "50-300"], says: "--vrid-range: VRID range 50-300 must lie within 1-255"),
        FlagRow(
            pool + ["--vrid-range", "57-50"],
            says: "--vrid-range: VRID range 57-50 must lie within 1-255 with the lower end first"),
        FlagRow(pool + ["--vrid-range", "abc"], says: "--vrid-range: VRID range \"abc\" is not N or N-M"),
        FlagRow(pool + ["--vrrp-groups", "0"], says: "--vrrp-groups is 0"),
        FlagRow(
            pool + ["--vrrp-groups", "9"],
            says: "--vrrp-groups is 9; it must be between 1 and the size of --vrid-range 100-107 (8)"),
        FlagRow(
            pool + ["--cluster-name", "UPPER"], says: "--cluster-name: cluster name \"UPPER\" is not a DNS-1123 label"),
        FlagRow(
            pool + ["--cluster-name", "a}b"], says: "--cluster-name: cluster name \"a}b\" is not a DNS-1123 label"),
        FlagRow(pool + ["--log-format", "xml"], says: "--log-format xml: allowed values are text and json"),
        FlagRow(pool + ["--log-level", "loud"], says: "--log-level loud: allowed values are trace"),
        FlagRow(
            pool + ["--metrics-bind-address", ":99999"], says: "--metrics-bind-address \":99999\" is not host:port"),
        FlagRow(pool + ["--health-bind-address", "nope"], says: "--health-bind-address \"nope\" is not host:port"),
        FlagRow(pool + ["--namespace", "Kube_System"], says: "--namespace \"Kube_System\": not a DNS-1123 label"),
        FlagRow(pool + ["--configmap", "a/b"], says: "--configmap \"a/b\": not a DNS-1123 subdomain"),
        FlagRow(pool + ["--leader-elect", "maybe"], says: "'maybe' is invalid for '--leader-elect <leader-elect>'"),
        FlagRow(pool + ["--node-selector", ""], says: "--node-selector \"\": must be a non-empty label selector"),
        FlagRow(pool + ["--bogus-flag"], says: "Unknown option '--bogus-flag'"),
        // Spelled as operators write it (ArgumentParser's own derivation was --avoid-buggy-i-ps):
        // accepted, so the error is about the next flag.
        FlagRow(pool + ["--avoid-buggy-ips", "--workers", "0"], says: "--workers 0: must be 1-64"),
        FlagRow(
            pool + ["--leader-elect-lease-duration", "5", "--leader-elect-renew-deadline", "8"],
            says: "need 0 < retry period < renew deadline < lease duration"),
        // The predecessor's environment: errors name the variable, not the flag.
        FlagRow(
            [], env: ["KEEPALIVED_SERVICE_CIDR": "10.0.0.0/33"], says: "env KEEPALIVED_SERVICE_CIDR: prefix length /33"),
        FlagRow(
            [], env: ["KEEPALIVED_SERVICE_CIDR": "10.210.1.64/26,nope"], says: "env KEEPALIVED_SERVICE_CIDR: \"nope\""),
        FlagRow(
            pool, env: ["KEEPALIVED_DEFAULT_FORWARD_METHOD": "TUN"],
            says: "env KEEPALIVED_DEFAULT_FORWARD_METHOD is \"TUN\""),
        FlagRow(
            pool, env: ["KEEPALIVED_NAMESPACE": "Bad_NS"],
            says: "env KEEPALIVED_NAMESPACE \"Bad_NS\": not a DNS-1123 label"),
        FlagRow(pool, env: ["KEEPALIVED_NAMESPACE": "a\nb"], says: "env KEEPALIVED_NAMESPACE \"a\\nb\""),
        FlagRow(
            pool, env: ["KEEPALIVED_CONFIG_MAP": "x}"],
            says: "env KEEPALIVED_CONFIG_MAP \"x}\": not a DNS-1123 subdomain"),
    ]

    static let agentRows: [FlagRow] = [
        FlagRow([], says: "--node-name is required (or env NODE_NAME"),
        FlagRow(["--node-name", "UPPER_case"], says: "--node-name: node name \"UPPER_case\""),
        FlagRow([], env: ["NODE_NAME": "x y"], says: "env NODE_NAME: node name \"x y\""),
        FlagRow(["--node-name", "n1", "--interface", "eth0}"], says: "--interface: interface name \"eth0}\""),
        FlagRow(
            ["--node-name", "n1", "--interface", String(repeating: "x", count: 20)], says: "--interface: interface name"
        ),
        FlagRow(
            ["--node-name", "n1", "--advert-interval-ms", "5"], says: "--advert-interval-ms: advert interval 5 ms"),
        FlagRow(
            ["--node-name", "n1", "--advert-interval-ms", "105"], says: "--advert-interval-ms: advert interval 105 ms"),
        FlagRow(
            ["--node-name", "n1", "--state-dir", "relative/dir"],
            says: "--state-dir: path \"relative/dir/notify.fifo\" must be absolute"),
        FlagRow(
            ["--node-name", "n1", "--netns", "/run/netns/x"],
            says: "--netns \"/run/netns/x\": give a name under /run/netns"),
        FlagRow(
            ["--node-name", "n1", "--keepalived", "/nonexistent/keepalived"],
            says: "--keepalived /nonexistent/keepalived: not an executable"),
        FlagRow(["--node-name", "n1", "--log-format", "yaml"], says: "--log-format yaml"),
        FlagRow(
            ["--node-name", "n1", "--metrics-bind-address", "1.2.3.4"], says: "--metrics-bind-address \"1.2.3.4\""),
        FlagRow(["--node-name", "n1", "--namespace", "a.b"], says: "--namespace \"a.b\": not a DNS-1123 label"),
        FlagRow(
            ["--node-name", "n1"], env: ["KEEPALIVED_CONFIG_MAP": "UPPER"], says: "env KEEPALIVED_CONFIG_MAP \"UPPER\""),
        FlagRow(["--node-name", "n1"], env: ["KEEPALIVED_NAMESPACE": "-x"], says: "env KEEPALIVED_NAMESPACE \"-x\""),
    ]

    /// Exit 2 and exactly one line, which names the flag or variable and what is allowed.
    private func expectRejected(_ binary: String, _ row: FlagRow) throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID()).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let arguments =
            ["env", "-i", "PATH=/usr/sbin:/usr/bin:/bin"] + row.environment.map { "\($0)=\($1)" }
            + [binary, "--kubeconfig", "/nonexistent/kubeconfig"] + row.arguments
        let status = try ChildProcess.spawn(arguments, outputPath: log).waitBlocking()
        let output = try String(contentsOfFile: log, encoding: .utf8)
        #expect(status == 2, "\(row.testDescription): exit \(status): \(output)")
        #expect(output.split(separator: "\n").count == 1, "one line: \(output)")
        #expect(output.contains(row.says), "\(output)")
    }

    @Test("keepalived-cloud-provider refuses", arguments: controllerRows)
    func controllerFlags(_ row: FlagRow) throws {
        try expectRejected(try #require(ExecutableTests.binary), row)
    }

    @Test("keepalived-vip-agent refuses", arguments: agentRows)
    func agentFlags(_ row: FlagRow) throws {
        try expectRejected(try #require(TestEnvironment.builtBinary("keepalived-vip-agent")), row)
    }

    // MARK: - Services

    struct ServiceRow: Sendable, CustomTestStringConvertible {
        let name: String
        let annotations: [String: String]
        let loadBalancerIP: String?
        let reason: String
        var testDescription: String { name }
    }

    static let requested = ControllerConfiguration.requestedIPsAnnotation
    static let forward = ForwardMethod.annotation
    static let serviceRows: [ServiceRow] = [
        .init(
            name: "ip-out-of-range-octet", annotations: [requested: "10.210.1.300"], loadBalancerIP: nil,
            reason: "InvalidRequestedIP"),
        .init(
            name: "ip-garbage", annotations: [requested: "banana"], loadBalancerIP: nil, reason: "InvalidRequestedIP"),
        .init(
            name: "ip-injection", annotations: [requested: "10.210.1.70\n}\nvrrp_instance x {"], loadBalancerIP: nil,
            reason: "InvalidRequestedIP"),
        .init(
            name: "ip-with-prefix", annotations: [requested: "10.210.1.70/32"], loadBalancerIP: nil,
            reason: "InvalidRequestedIP"),
        .init(
            name: "ip-two-of-a-family", annotations: [requested: "10.210.1.70,10.210.1.71"], loadBalancerIP: nil,
            reason: "InvalidRequestedIP"),
        .init(
            name: "ip-three", annotations: [requested: "10.210.1.70,2001:db8:1::5,10.210.1.71"], loadBalancerIP: nil,
            reason: "InvalidRequestedIP"),
        .init(
            name: "ip-unicode", annotations: [requested: "１０.210.1.70"], loadBalancerIP: nil,
            reason: "InvalidRequestedIP"),
        .init(
            name: "ip-oversized", annotations: [requested: String(repeating: "9", count: 200_000)], loadBalancerIP: nil,
            reason: "InvalidRequestedIP"),
        .init(
            name: "ip-empty-items", annotations: [requested: ",,"], loadBalancerIP: nil, reason: "InvalidRequestedIP"),
        .init(
            name: "ip-outside-pool", annotations: [requested: "192.0.2.7"], loadBalancerIP: nil,
            reason: "AllocationFailed"),
        .init(
            name: "ip-network-address", annotations: [requested: "10.210.1.64"], loadBalancerIP: nil,
            reason: "AllocationFailed"),
        .init(
            name: "ip-broadcast-address", annotations: [requested: "10.210.1.127"], loadBalancerIP: nil,
            reason: "AllocationFailed"),
        .init(
            name: "ip-taken", annotations: [requested: "10.210.1.65"], loadBalancerIP: nil, reason: "AllocationFailed"),
        .init(
            name: "ip-wrong-family", annotations: [requested: "2001:db8:1::5"], loadBalancerIP: nil,
            reason: "IPFamilyMismatch"),
        .init(name: "spec-ip-garbage", annotations: [:], loadBalancerIP: "not-an-ip", reason: "InvalidRequestedIP"),
        .init(name: "spec-ip-outside", annotations: [:], loadBalancerIP: "198.51.100.9", reason: "AllocationFailed"),
        .init(
            name: "forward-unknown", annotations: [forward: "TUN"], loadBalancerIP: nil, reason: "InvalidForwardMethod"),
        .init(
            name: "forward-injection", annotations: [forward: "NAT\n}"], loadBalancerIP: nil,
            reason: "InvalidForwardMethod"),
        .init(
            name: "forward-control", annotations: [forward: "\u{1b}[2JDR"], loadBalancerIP: nil,
            reason: "InvalidForwardMethod"),
        .init(
            name: "forward-oversized", annotations: [forward: String(repeating: "D", count: 100_000)],
            loadBalancerIP: nil, reason: "InvalidForwardMethod"),
    ]

    /// Every row at once beside a Service that was there first: each gets its exact Warning and a
    /// False condition, the bystander keeps its address and ConfigMap entry, nothing is allocated
    /// for a refused row.
    @Test(.integration, .tags(.integration)) func badServicesGetAWarningAndAFalseConditionAndHarmNoOne() async throws {
        let h = try await ControllerHarness.make()
        let (controller, task) = h.start(try h.configuration(cidrs: ["10.210.1.64/26", "2001:db8:1::/120"]))
        defer { task.cancel() }
        _ = try await h.loadBalancer("bystander")
        #expect(try await eventually { try await h.ingress("bystander") == ["10.210.1.65"] })
        for row in Self.serviceRows {
            _ = try await h.loadBalancer(row.name, annotations: row.annotations) {
                $0.spec.loadBalancerIP = row.loadBalancerIP
            }
        }
        for row in Self.serviceRows {
            #expect(
                try await eventually {
                    try await h.events(for: row.name).contains {
                        $0.reason == row.reason && $0.type == "Warning"
                            && ($0.message?.utf8.count ?? .max) <= SafeText.eventMessageLimit + 32
                    }
                }, "\(row.name): a bounded Warning \(row.reason)")
            #expect(
                try await eventually {
                    let condition = try await h.service(row.name)?.status.conditions.first {
                        $0.type == ControllerConfiguration.conditionType
                    }
                    return condition?.status == .false && condition?.reason == row.reason
                }, "\(row.name): condition False/\(row.reason)")
            #expect(try await h.ingress(row.name).isEmpty, "\(row.name) got no address")
        }
        #expect(try await h.ingress("bystander") == ["10.210.1.65"])
        #expect(try await h.configMapData() == ["10.210.1.65": "\(h.namespace)/bystander"])
        #expect(await controller.usage(.ipv4).used == 1)
        #expect(await controller.usage(.ipv6).used == 0)
    }

    // MARK: - Plans and ConfigMap entries

    static let planRows: [(String, String)] = [
        ("junk", "not json at all"),
        ("empty", ""),
        ("array", "[]"),
        ("unknown version", #"{"version":2,"cluster":"fcp","nodes":[],"instances":[]}"#),
        ("missing instances", #"{"version":1,"cluster":"fcp","nodes":[]}"#),
        ("cluster injection", #"{"version":1,"cluster":"fcp }\nvrrp_instance x {","nodes":[],"instances":[]}"#),
        ("node injection", #"{"version":1,"cluster":"fcp","nodes":["a\n}"],"instances":[]}"#),
        (
            "address injection",
            #"{"version":1,"cluster":"fcp","nodes":["a"],"instances":[{"vrid":5,"family":"IPv4","preferred":0,"addresses":["10.0.0.1 }"]}]}"#
        ),
        (
            "vrid 0",
            #"{"version":1,"cluster":"fcp","nodes":["a"],"instances":[{"vrid":0,"family":"IPv4","preferred":0,"addresses":["10.0.0.1"]}]}"#
        ),
        (
            "vrid 256",
            #"{"version":1,"cluster":"fcp","nodes":["a"],"instances":[{"vrid":256,"family":"IPv4","preferred":0,"addresses":["10.0.0.1"]}]}"#
        ),
        (
            "duplicate vrid",
            #"{"version":1,"cluster":"fcp","nodes":["a"],"instances":[{"vrid":5,"family":"IPv4","preferred":0,"addresses":["10.0.0.1"]},{"vrid":5,"family":"IPv4","preferred":0,"addresses":["10.0.0.2"]}]}"#
        ),
        (
            "preferred out of range",
            #"{"version":1,"cluster":"fcp","nodes":["a"],"instances":[{"vrid":5,"family":"IPv4","preferred":3,"addresses":["10.0.0.1"]}]}"#
        ),
        (
            "family mismatch",
            #"{"version":1,"cluster":"fcp","nodes":["a"],"instances":[{"vrid":5,"family":"IPv4","preferred":0,"addresses":["2001:db8::1"]}]}"#
        ),
        (
            "unknown family",
            #"{"version":1,"cluster":"fcp","nodes":["a"],"instances":[{"vrid":5,"family":"IPX","preferred":0,"addresses":["10.0.0.1"]}]}"#
        ),
        (
            "no addresses",
            #"{"version":1,"cluster":"fcp","nodes":["a"],"instances":[{"vrid":5,"family":"IPv4","preferred":0,"addresses":[]}]}"#
        ),
    ]

    @Test("a VRRP plan is refused whole", arguments: planRows.map(\.0))
    func planRefused(_ name: String) {
        let text = Self.planRows.first { $0.0 == name }!.1
        #expect(throws: KeepalivedError.self) { try VRRPPlan(json: text) }
    }

    @Test func unreadableConfigMapEntriesAreSetAsideNotGuessed() {
        let decoded = VIPConfigMapFormat.decode([
            "10.210.1.65": "default/web",
            "10.210.1.66": "default/web:TUN",
            "10.210.1.67": "no-slash",
            "10.210.1.68": "default/x\n}",
            "10.210.1.69": "UPPER/case",
        ])
        #expect(decoded.entries.map(\.address.description) == ["10.210.1.65"])
        #expect(decoded.invalid.count == 4)
    }
}
