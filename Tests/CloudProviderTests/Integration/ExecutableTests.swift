import Foundation
import InMemoryAPI
import Keepalived
import KubeClient
import TestLab
import TestTraits
import Testing

@Suite("keepalived-cloud-provider binary against kube-apiserver", .integration, .tags(.integration))
struct ExecutableTests {
    static var binary: String? {
        TestEnvironment.builtBinary("keepalived-cloud-provider")
    }

    /// A providerID can never be changed: initialising Nodes is something an operator turns on, never a default.
    @Test func initialisesNodesOnlyWhenAsked() async throws {
        let binary = try #require(Self.binary, "build the keepalived-cloud-provider product first (scripts/test does)")
        let (_, help) = try await runCommandAsync([binary, "--help"])
        let entry = help.components(separatedBy: "--initialize-nodes <initialize-nodes>").dropFirst().first ?? ""
        let text = entry.components(separatedBy: "\n  --").first?.split(whereSeparator: \.isWhitespace)
            .joined(separator: " ")
        #expect(text?.contains("(default: false)") == true, "\(text ?? help)")
    }

    @Test func servesAServiceThenShutsDownGracefullyOnSIGTERM() async throws {
        let binary = try #require(Self.binary, "build the keepalived-cloud-provider product first (scripts/test does)")
        let h = try await ControllerHarness.make()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("kcp-\(h.namespace).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let metricsPort = LocalHTTP.freePort()
        let healthPort = LocalHTTP.freePort()
        let process = try ChildProcess.spawn(
            [
                binary, "--kubeconfig", (try h.realCluster).adminKubeconfig, "--cidr", "10.210.1.64/26",
                "--namespace", h.namespace, "--watch-namespace", h.namespace, "--log-format", "json",
                "--default-forward-method", "dr", "--cluster-name", "fcp", "--vrid-range", "90-91", "--vrrp-groups",
                "2",
                "--metrics-bind-address", "127.0.0.1:\(metricsPort)",
                "--health-bind-address", "127.0.0.1:\(healthPort)",
            ], outputPath: log)
        var stopped = false
        defer { if !stopped { process.killAndReap() } }

        _ = try await h.loadBalancer("hello-world")
        #expect(try await eventually { try await h.ingress("hello-world") == ["10.210.1.65"] })
        #expect(try await h.configMapData() == ["10.210.1.65": "\(h.namespace)/hello-world:DR"])
        let lease = try await h.admin.get(Lease.self, namespace: h.namespace, name: "keepalived-cloud-provider")
        #expect(lease.spec.holderIdentity?.isEmpty == false)
        let plan = try #require(try await h.plan())
        #expect(plan.cluster == "fcp" && plan.instances.allSatisfy { (90...91).contains($0.vrid) })

        // Endpoints: health, readiness (leader with its ledger restored), and metrics that add up.
        #expect(LocalHTTP.get(port: healthPort, path: "/healthz")?.status == 200)
        #expect(await eventually { LocalHTTP.get(port: healthPort, path: "/readyz")?.status == 200 })
        #expect(LocalHTTP.get(port: healthPort, path: "/metrics")?.status == 404, "metrics live on their own address")
        let metrics = try #require(LocalHTTP.get(port: metricsPort, path: "/metrics"))
        #expect(metrics.status == 200)
        for line in [
            #"keepalived_lb_pool_addresses_used{pool="fcp",family="IPv4"} 1"#,
            #"keepalived_lb_pool_addresses_free{pool="fcp",family="IPv4"} 61"#,
            #"keepalived_lb_pool_addresses_size{pool="fcp",family="IPv4"} 62"#,
            "keepalived_lb_allocations_total 1", "keepalived_lb_leader 1",
        ] {
            #expect(metrics.body.contains(line), "\(line) missing from:\n\(metrics.body.prefix(3000))")
        }
        #expect(metrics.body.contains("keepalived_lb_reconcile_duration_seconds_bucket"))
        #expect(metrics.body.contains("keepalived_lb_workqueue_depth"))
        #expect(metrics.body.contains("keepalived_lb_configmap_writes_total"))
        #expect(
            metrics.body.contains(
                #"keepalived_lb_api_requests_total{method="PATCH",resource="services/status",code="200"} 1"#))
        // jemalloc is the allocator: its statistics count the process's own heap (megabytes, not zero).
        // (The gauge reads 0 until the monitor's first round, two seconds in.)
        #expect(
            await eventually { (Self.sample("keepalived_lb_heap_allocated_bytes", port: metricsPort) ?? 0) > 1_000_000 }
        )
        // Recorded in the same round: the pages that hold allocations, and the allocator's own bookkeeping.
        #expect((Self.sample("keepalived_lb_heap_active_bytes", port: metricsPort) ?? 0) > 1_000_000)
        #expect((Self.sample("keepalived_lb_heap_metadata_bytes", port: metricsPort) ?? 0) > 0)

        process.signal(SIGTERM)
        let status = await process.exitStatus()
        stopped = true
        #expect(status == 0)
        let released = try await h.admin.get(Lease.self, namespace: h.namespace, name: "keepalived-cloud-provider")
        #expect(released.spec.holderIdentity == "", "the lease is handed back on SIGTERM")
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(output.contains("\"msg\":\"became leader\""), "json logs: \(output.prefix(400))")
    }
}

extension ExecutableTests {
    /// One unlabelled sample of a metric, or nil while it is not exported yet.
    static func sample(_ name: String, port: Int) -> Double? {
        LocalHTTP.get(port: port, path: "/metrics")?.body.split(separator: "\n")
            .first { $0.hasPrefix(name + " ") }
            .flatMap { Double($0.split(separator: " ").last ?? "") }
    }
}

@Suite("Two replicas of the binary against kube-apiserver", .integration, .tags(.integration))
struct ReplicaTests {
    @Test func leaderSIGKILLedMidBurstStandbyFinishesWithoutDuplicatesOrLeaks() async throws {
        let binary = try #require(ExecutableTests.binary)
        let h = try await ControllerHarness.make()
        var replicas: [(process: ChildProcess, log: String)] = []
        defer {
            for replica in replicas {
                replica.process.killAndReap()
                try? FileManager.default.removeItem(atPath: replica.log)
            }
        }
        let metricsPorts = [LocalHTTP.freePort(), LocalHTTP.freePort()]
        for index in 0..<2 {
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("kcp-\(h.namespace)-\(index).log")
                .path
            // No health endpoint: nothing probes /readyz, so the leader gauge must follow leadership on its own.
            let process = try ChildProcess.spawn(
                [
                    binary, "--kubeconfig", (try h.realCluster).adminKubeconfig, "--cidr", "10.210.1.64/26",
                    "--namespace", h.namespace, "--watch-namespace", h.namespace,
                    "--metrics-bind-address", "127.0.0.1:\(metricsPorts[index])", "--health-bind-address", "0",
                ], outputPath: log)
            replicas.append((process, log))
        }
        func leaderIndex() -> Int? {
            replicas.firstIndex {
                ((try? String(contentsOfFile: $0.log, encoding: .utf8)) ?? "").contains("became leader")
            }
        }
        #expect(await eventually { leaderIndex() != nil })
        let leader = try #require(leaderIndex())
        #expect(
            await eventually {
                ExecutableTests.sample("keepalived_lb_leader", port: metricsPorts[leader]) == 1
                    && ExecutableTests.sample("keepalived_lb_leader", port: metricsPorts[1 - leader]) == 0
            }, "the leader says 1 and the standby 0, with nobody reading /readyz")

        let names = (0..<20).map { "burst-\($0)" }
        for (index, name) in names.enumerated() {
            _ = try await h.loadBalancer(name)
            if index == 8 { replicas[leader].process.signal(SIGKILL) }
        }
        // The standby waits out the 15 s lease, restores the ledger and finishes the burst.
        #expect(
            try await eventually(.seconds(60)) {
                var all = true
                for name in names where try await h.ingress(name).count != 1 { all = false }
                return all
            })
        let standbyLog = (try? String(contentsOfFile: replicas[1 - leader].log, encoding: .utf8)) ?? ""
        #expect(standbyLog.contains("became leader"))
        #expect(
            await eventually { ExecutableTests.sample("keepalived_lb_leader", port: metricsPorts[1 - leader]) == 1 })

        var owners: [String: String] = [:]
        for name in names {
            for ip in try await h.ingress(name) {
                #expect(owners[ip] == nil, "\(ip) given to both \(owners[ip] ?? "") and \(name)")
                owners[ip] = name
            }
        }
        #expect(owners.count == 20)
        let data = try await h.configMapData()
        #expect(data.count == 20)
        for (ip, name) in owners { #expect(data[ip] == "\(h.namespace)/\(name)") }
    }
}
