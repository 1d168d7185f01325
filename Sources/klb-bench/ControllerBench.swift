import ArgumentParser
import Foundation
import KubeClient
import KubeTestSupport

/// The controller binary against a fresh real control plane: throughput, latency, memory, and
/// the server's own status-PATCH ceiling measured in the same run.
struct ControllerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "controller", abstract: "keepalived-cloud-provider against kube-apiserver.")

    @Option(help: "The keepalived-cloud-provider binary (release build).")
    var controllerBinary: String

    @Option(help: "Services for the throughput case.")
    var burst = 1000

    @Option(help: "Sequential creations for the latency case.")
    var samples = 100

    @Option(help: "Services for the memory case.")
    var memoryServices = 10_000

    func run() async throws {
        let cluster = try await TestEnvironment.start(prefix: "bench")
        let admin = try cluster.adminClient()

        // Latency and throughput share one controller.
        let namespace = try await cluster.makeNamespace(admin, prefix: "bench")
        let controller = try startController(cluster, namespace: namespace)
        let seen = IngressWatcher()
        let watcher = Task { await seen.follow(admin, namespace: namespace) }
        try await create(admin, namespace: namespace, name: "warmup")
        _ = await seen.wait(for: "warmup")

        var latencies: [Double] = []
        for index in 0..<samples {
            let name = "one-\(index)"
            let start = ContinuousClock.now
            try await create(admin, namespace: namespace, name: name)
            let seenAt = await seen.wait(for: name)
            latencies.append(milliseconds(seenAt - start))
        }
        latencies.sort()
        report(suite: "controller", name: "create_to_ip_p50", value: latencies[latencies.count / 2], unit: "ms")
        report(suite: "controller", name: "create_to_ip_p99", value: latencies[min(latencies.count - 1, latencies.count * 99 / 100)], unit: "ms")

        let names = (0..<burst).map { "burst-\($0)" }
        let start = ContinuousClock.now
        try await concurrently(names, width: 32) { try await create(admin, namespace: namespace, name: $0) }
        let created = ContinuousClock.now
        var last = start
        for name in names { last = max(last, await seen.wait(for: name)) }
        let addresses = await seen.addresses(of: names)
        precondition(Set(addresses).count == burst, "duplicate or missing addresses")
        report(suite: "controller", name: "services_per_s", value: Double(burst) / (milliseconds(last - start) / 1000), unit: "services/s")
        report(suite: "controller", name: "services_created_per_s", value: Double(burst) / (milliseconds(created - start) / 1000), unit: "services/s")
        watcher.cancel()
        controller.stop()

        // The ceiling: 8 clients doing nothing but status PATCHes on the same server, controller stopped.
        let patchers = 8, window = Duration.seconds(5)
        let counter = Counter()
        let deadline = ContinuousClock.now + window
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<patchers {
                group.addTask {
                    let client = try cluster.adminClient()
                    var i = worker
                    while ContinuousClock.now < deadline {
                        let name = names[i % names.count]
                        _ = try await client.patch(Service.self, namespace: namespace, name: name,
                                                   .merge(["status": ["conditions": [["type": "bench/Probe", "status": "True", "reason": "Bench",
                                                                                       "message": .string("\(i)"), "lastTransitionTime": "2026-01-01T00:00:00Z"]]]]),
                                                   subresource: "status")
                        await counter.add()
                        i += patchers
                    }
                    try await client.shutdown()
                }
            }
            try await group.waitForAll()
        }
        report(suite: "controller", name: "raw_status_patch_per_s", value: Double(await counter.value) / 5, unit: "patches/s")

        // Memory with many Services: a fresh controller, then its resident set once all are served.
        let big = try await cluster.makeNamespace(admin, prefix: "bench-mem")
        let memoryController = try startController(cluster, namespace: big)
        let bigNames = (0..<memoryServices).map { "m-\($0)" }
        try await concurrently(bigNames, width: 32) { try await create(admin, namespace: big, name: $0) }
        let memorySeen = IngressWatcher()
        let memoryWatcher = Task { await memorySeen.follow(admin, namespace: big) }
        for name in bigNames { _ = await memorySeen.wait(for: name) }
        memoryWatcher.cancel()
        try await Task.sleep(for: .seconds(2))
        report(suite: "controller", name: "rss_10k_services", value: rssMiB(pid: memoryController.pid, field: "VmRSS:"), unit: "MiB")
        report(suite: "controller", name: "peak_rss_10k_services", value: rssMiB(pid: memoryController.pid, field: "VmHWM:"), unit: "MiB")
        memoryController.stop()
        try await admin.shutdown()
        try await TestEnvironment.script(["down", cluster.name])
    }

    func startController(_ cluster: TestCluster, namespace: String) throws -> ChildProcess {
        try ChildProcess.spawn([controllerBinary, "--kubeconfig", cluster.adminKubeconfig, "--cidr", "10.210.0.0/16",
                                "--namespace", namespace, "--watch-namespace", namespace, "--leader-elect", "false",
                                "--kube-api-qps", "5000", "--kube-api-burst", "10000", "--workers", "16",
                                "--metrics-bind-address", "0", "--health-bind-address", "0", "--log-level", "warning"],
                               outputPath: "\(cluster.directory)/controller-\(namespace).log")
    }

    func create(_ client: KubernetesClient, namespace: String, name: String) async throws {
        var service = Service()
        service.metadata = ObjectMeta(name: name, namespace: namespace)
        service.spec.type = "LoadBalancer"
        service.spec.ports = [ServicePort(name: "http", port: 80, targetPort: 8080)]
        _ = try await client.create(service)
    }

    func rssMiB(pid: pid_t, field: String) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
              let kib = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
        return kib / 1024
    }
}

/// Runs `body` for every item with at most `width` in flight.
func concurrently<T: Sendable>(_ items: [T], width: Int, _ body: @escaping @Sendable (T) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var iterator = items.makeIterator()
        for _ in 0..<width {
            guard let item = iterator.next() else { break }
            group.addTask { try await body(item) }
        }
        while try await group.next() != nil {
            if let item = iterator.next() { group.addTask { try await body(item) } }
        }
    }
}

actor Counter {
    private(set) var value = 0
    func add() { value += 1 }
}

/// Follows a namespace's Services and records when each first shows an ingress address.
actor IngressWatcher {
    private var seen: [String: (at: ContinuousClock.Instant, ip: String)] = [:]
    private var waiters: [String: [CheckedContinuation<ContinuousClock.Instant, Never>]] = [:]

    func follow(_ client: KubernetesClient, namespace: String) async {
        var resourceVersion: String?
        while !Task.isCancelled {
            do {
                for try await event in client.watch(Service.self, namespace: namespace, options: WatchOptions(resourceVersion: resourceVersion)) {
                    switch event {
                    case .added(let s), .modified(let s):
                        resourceVersion = s.metadata.resourceVersion
                        if let ip = s.status.loadBalancer.ingress.first?.ip, let name = s.metadata.name { record(name, ip) }
                    case .bookmark(let version):
                        resourceVersion = version
                    case .deleted:
                        break
                    }
                }
            } catch {
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    private func record(_ name: String, _ ip: String) {
        guard seen[name] == nil else { return }
        let now = ContinuousClock.now
        seen[name] = (now, ip)
        for waiter in waiters.removeValue(forKey: name) ?? [] { waiter.resume(returning: now) }
    }

    func wait(for name: String) async -> ContinuousClock.Instant {
        if let entry = seen[name] { return entry.at }
        return await withCheckedContinuation { waiters[name, default: []].append($0) }
    }

    func addresses(of names: [String]) -> [String] { names.compactMap { seen[$0]?.ip } }
}
