import ArgumentParser
import BenchSupport
import Foundation
import KubeClient
import TestLab

#if canImport(Glibc)
    import Glibc
#endif

/// `scripts/chaos`: both planes under faults, against the real API server and real keepalived in
/// network namespaces (three nodes, a client probing every steady VIP every few milliseconds).
/// Prints JSON lines like `scripts/bench`; exits non-zero on any violation.
struct ChaosRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos", abstract: "Faults on both planes, invariants checked.")

    @Option(help: "The keepalived-cloud-provider binary.")
    var controllerBinary: String

    @Option(help: "The keepalived-vip-agent binary.")
    var agentBinary: String

    @Option(help: "Seconds of control-plane chaos (churn, controller kills, API server restart).")
    var seconds = 60

    @Option(help: "Controller SIGKILLs during the control-plane chaos.")
    var kills = 24

    @Option(help: "Services nobody touches: their VIPs must stay answered.")
    var steady = 8

    @Option(help: "Services created, deleted, flipped and re-addressed.")
    var churn = 12

    @Option(help: "Endpoint moves in the Local-placement lab (real kube-proxy); 0 leaves that lab out.")
    var placementMoves = 6

    @Option(
        help:
            "Steady Services of a pool announced by BGP to a BIRD router (BFD on), beside the VRRP ones; 0: no BGP.")
    var routed = 3

    func run() async throws {
        let lab = try await AgentLab(nodeCount: 3)
        lab.agentPath = agentBinary
        let chaos = Chaos(lab: lab, controllerBinary: controllerBinary, options: self)
        let violations: Int
        do {
            violations = try await chaos.run()
        } catch {
            await chaos.stopEverything()
            await lab.tearDown()
            throw error
        }
        await chaos.stopEverything()
        await lab.tearDown()
        var placementViolations = 0
        if placementMoves > 0 {
            // A lab of its own: kube-proxy handles every LB address, so the first lab's echo servers would not do.
            let placementLab = try await AgentLab(nodeCount: 3)
            placementLab.agentPath = agentBinary
            let placement = PlacementChaos(lab: placementLab, controllerBinary: controllerBinary, moves: placementMoves)
            do {
                placementViolations = try await placement.run().count
            } catch {
                await placement.stop()
                await placementLab.tearDown()
                throw error
            }
            await placementLab.tearDown()
        }
        if placementMoves > 0 {
            report(suite: "chaos", name: "placement_violations", value: Double(placementViolations), unit: "count")
        }
        if violations + placementViolations > 0 { throw ExitCode(1) }
    }
}

/// Mutable state of one run; the driver and its samplers share it through the actor.
actor Chaos {
    let lab: AgentLab
    let controllerBinary: String
    let seconds: Int
    let kills: Int
    let steadyCount: Int
    let churnCount: Int
    let routedCount: Int
    /// Steady VIPs of the BGP pool: on no interface, answered through the router's ECMP routes.
    var routedVIPs: Set<String> = []
    /// Three adverts plus the skew at the agents' 200 ms, with room for the client's ARP.
    let failoverWindow: Double = 1.3

    var controllers: [ChildProcess?] = [nil, nil]
    var controllerLogs: [String] = []
    var violations: [String] = []
    var operations = 0
    var operationErrors = 0
    var controllerKills = 0
    var faults: [(type: String, start: Double, end: Double)] = []
    var steadyVIPs: [String: String] = [:]  // VIP → Service
    var probe: ChildProcess?
    var probeOutput: String { lab.stateRoot + "/chaos-probe.jsonl" }
    var doubleHeldSince: [String: Double] = [:]
    /// When a fault last changed the ConfigMap by hand.
    var configMapTamperedAt: Double?
    var samplersRunning = true
    var random = SystemRandomNumberGenerator()

    init(lab: AgentLab, controllerBinary: String, options: ChaosRun) {
        self.lab = lab
        self.controllerBinary = controllerBinary
        seconds = options.seconds
        kills = options.kills
        steadyCount = options.steady
        churnCount = options.churn
        routedCount = options.routed
    }

    static func now() -> Double { Date().timeIntervalSince1970 }

    func violation(_ text: String) {
        guard !violations.contains(text) else { return }
        violations.append(text)
        printViolation(text)
    }

    // MARK: - The run

    func run() async throws -> Int {
        let namespace = lab.namespace
        try FileManager.default.createDirectory(atPath: lab.stateRoot, withIntermediateDirectories: true)
        try await lab.cluster.bindDeployRole("keepalived-cloud-provider", to: "klb-controller", namespace: namespace)
        if routedCount > 0 { try await setUpBGP() }
        for index in 0..<2 { try startController(index) }
        for node in lab.nodes { try lab.startAgent(node) }
        try lab.startEchoServers()

        // Steady Services first; they must stay answered whatever happens to the rest.
        for index in 0..<steadyCount { try await createService("steady-\(index)", requested: nil) }
        try await waitUntil(seconds: 90, "every steady Service served and answered") {
            var served: [String: String] = [:]
            for index in 0..<self.steadyCount {
                guard let ip = try await self.lab.ingress("steady-\(index)") else { return false }
                served[ip] = "steady-\(index)"
            }
            guard served.count == self.steadyCount else { return false }
            for vip in served.keys where try self.lab.holders(vip).count != 1 { return false }
            return true
        }
        for index in 0..<steadyCount {
            if let ip = try await lab.ingress("steady-\(index)") { steadyVIPs[ip] = "steady-\(index)" }
        }
        if routedCount > 0 {
            for index in 0..<routedCount { try await createService("routed-\(index)", requested: nil, pool: bgpPool) }
            try await waitUntil(seconds: 90, "every routed Service announced by every node") {
                for index in 0..<self.routedCount {
                    guard let ip = try await self.lab.ingress("routed-\(index)"),
                        try self.lab.bgpNextHops(ip).count == self.lab.nodes.count
                    else { return false }
                }
                return true
            }
            for index in 0..<routedCount {
                if let ip = try await lab.ingress("routed-\(index)") {
                    steadyVIPs[ip] = "routed-\(index)"
                    routedVIPs.insert(ip)
                }
            }
        }
        try await Task.sleep(for: .seconds(6))  // past preempt_delay: every instance on its preferred node
        probe = try ChildProcess.spawn(
            [
                "ip", "netns", "exec", lab.client, "python3",
                TestEnvironment.repositoryRoot + "/scripts/lib/chaos-probe.py",
                steadyVIPs.keys.sorted().joined(separator: ","), "0.01", "900", probeOutput,
            ],
            outputPath: lab.stateRoot + "/chaos-probe.log")
        try await Task.sleep(for: .seconds(1))

        async let samplers: Void = sample()
        let started = ContinuousClock.now
        try await controlPlaneChaos()
        try await dataPlaneFaults()
        let converged = try await converge()
        report("converge_after_faults", converged, "ms")
        try await finalInvariants()
        samplersRunning = false
        await samplers
        // The steady Services go too now: the client's view ends here.
        probe?.signal(SIGTERM)
        _ = await probe?.exitStatus()
        probe = nil
        gapsReport()
        let relists = (controllerLogs + lab.nodes.map(lab.agentLog)).reduce(0) { count, log in
            count
                + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
                .components(separatedBy: "watch resourceVersion expired; relisting").count - 1
        }
        report("watch_410_relists", Double(relists), "count")
        if relists == 0 { violation("the compaction and API server restart expired no watch (no 410 seen)") }
        try await deleteEverythingAndCheckNothingLeaks()
        report("operations", Double(operations), "count")
        report("operation_conflicts", Double(operationErrors), "count")
        report("controller_kills", Double(controllerKills), "count")
        report("faults", Double(faults.count + controllerKills), "count")
        report("duration", milliseconds(ContinuousClock.now - started) / 1000, "s")
        report("violations", Double(violations.count), "count")
        return violations.count
    }

    func report(_ name: String, _ value: Double, _ unit: String) {
        BenchSupport.report(suite: "chaos", name: name, value: value, unit: unit)
    }

    // MARK: - Control plane: churn, controller SIGKILLs, an API server restart after compaction

    func controlPlaneChaos() async throws {
        let start = Self.now()
        let end = ContinuousClock.now + .seconds(seconds)
        let killEvery = Duration.milliseconds(seconds * 1000 / max(kills, 1))
        var nextKill = ContinuousClock.now + killEvery
        var restarted = false
        var victim = 0
        while ContinuousClock.now < end {
            try await churnOnce()
            if ContinuousClock.now >= nextKill, controllerKills < kills {
                try await killController(victim)
                victim = 1 - victim
                nextKill = ContinuousClock.now + killEvery
            }
            if !restarted, ContinuousClock.now >= end - .seconds(seconds / 2) {
                restarted = true
                let faultStart = Self.now()
                try await compactEtcd()
                try await lab.cluster.restartAPIServer()
                faults.append(("apiserver_restart_after_compaction", faultStart, Self.now() + 5))
            }
            try await Task.sleep(for: .milliseconds(150))
        }
        // The last kill may have hit the leader: let the standby take over before faults.
        faults.append(("controller_kills_and_churn", start, Self.now() + 5))
        while controllerKills < kills {
            try await killController(victim)
            victim = 1 - victim
        }
    }

    func churnOnce() async throws {
        let name = "churn-\(Int.random(in: 0..<churnCount, using: &random))"
        operations += 1
        do {
            let existing = try? await lab.admin.get(Service.self, namespace: lab.namespace, name: name)
            guard let existing else {
                try await createService(name, requested: Bool.random(using: &random) ? randomPoolAddress() : nil)
                return
            }
            switch Int.random(in: 0..<4, using: &random) {
            case 0:
                try await lab.admin.delete(Service.self, namespace: lab.namespace, name: name)
            case 1 where existing.spec.type == .loadBalancer:
                _ = try await lab.admin.patch(
                    Service.self, namespace: lab.namespace, name: name,
                    .merge([
                        "spec": [
                            "type": "ClusterIP", "ports": [["name": "http", "port": 8080, "targetPort": 8080]],
                        ]
                    ]))
            case 1:
                _ = try await lab.admin.patch(
                    Service.self, namespace: lab.namespace, name: name, .merge(["spec": ["type": "LoadBalancer"]]))
            default:
                let address = randomPoolAddress()
                let annotation: JSONValue = Bool.random(using: &random) ? .string(address) : .null
                _ = try await lab.admin.patch(
                    Service.self, namespace: lab.namespace, name: name,
                    .merge([
                        "metadata": ["annotations": ["keepalived-lb.io/load-balancer-ips": annotation]]
                    ]))
            }
        } catch {
            operationErrors += 1
        }
    }

    func randomPoolAddress() -> String { "203.0.113.\(Int.random(in: 100...126, using: &random))" }

    func createService(_ name: String, requested: String?, pool: String? = nil) async throws {
        var service = Service()
        service.metadata = ObjectMeta(name: name, namespace: lab.namespace)
        if let requested { service.metadata.annotations = ["keepalived-lb.io/load-balancer-ips": requested] }
        if let pool { service.metadata.annotations["keepalived-lb.io/pool"] = pool }
        service.spec.type = .loadBalancer
        service.spec.ports = [ServicePort(name: "http", port: 8080, targetPort: 8080)]
        _ = try await lab.admin.create(service)
    }

    func startController(_ index: Int) throws {
        let log = lab.stateRoot + "/controller-\(index).log"
        if controllerLogs.count <= index { controllerLogs.append(log) }
        controllers[index] = try ChildProcess.spawn(
            [
                controllerBinary, "--kubeconfig", lab.cluster.controllerKubeconfig, "--cidr", "203.0.113.64/26",
                "--namespace", lab.namespace, "--watch-namespace", lab.namespace, "--cluster-name", "chaos",
                "--node-selector", "keepalived-lb.io/test=\(lab.namespace)", "--vrid-range", "20-23", "--vrrp-groups",
                "4",
                "--leader-elect-lease-duration", "4", "--leader-elect-renew-deadline", "3",
                "--leader-elect-retry-period", "1",
                "--metrics-bind-address", "0", "--health-bind-address", "0",
            ], outputPath: log)
    }

    func killController(_ index: Int) async throws {
        if let process = controllers[index] {
            process.signal(SIGKILL)
            _ = await process.exitStatus()
            controllerKills += 1
        }
        try startController(index)
    }

    /// Compacts etcd to its current revision: watches resumed from older versions get 410 Gone.
    func compactEtcd() async throws {
        let url = try String(contentsOfFile: lab.cluster.directory + "/etcd-url", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let range = try mustRun(["curl", "-sS", "-X", "POST", "\(url)/v3/kv/range", "-d", #"{"key":"AA=="}"#])
        guard let data = range.data(using: .utf8),
            let header = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["header"] as? [String: Any],
            let revision = header["revision"] as? String
        else { throw TestEnvironmentError(message: "etcd gave no revision: \(range)") }
        try mustRun([
            "curl", "-sS", "-X", "POST", "\(url)/v3/kv/compaction", "-d",
            #"{"revision":"\#(revision)","physical":true}"#,
        ])
    }

    // MARK: - Data plane faults

    func dataPlaneFaults() async throws {
        let configMap = "vip-configmap"
        try await fault("configmap_deleted") {
            await self.tampering()
            try await self.lab.admin.delete(ConfigMap.self, namespace: self.lab.namespace, name: configMap)
        }
        try await fault("configmap_emptied") {
            await self.tampering()
            var object = try await self.lab.admin.get(ConfigMap.self, namespace: self.lab.namespace, name: configMap)
            object.data = [:]
            _ = try await self.lab.admin.update(object)
        }
        try await fault("configmap_hand_edited") {
            await self.tampering()
            var object = try await self.lab.admin.get(ConfigMap.self, namespace: self.lab.namespace, name: configMap)
            if let key = object.data.keys.sorted().first(where: { $0.hasPrefix("203.") }) { object.data[key] = nil }
            object.data["203.0.113.99"] = "\(self.lab.namespace)/intruder"
            _ = try await self.lab.admin.update(object)
        }
        // An agent that sees plan changes seconds late (as when its ConfigMap watch stalls): the other nodes'
        // keepalived move on while its own keeps the previous address lists.
        let lagging = try busiestNode()
        try await fault("agent_lags_plan_changes") {
            guard let agent = self.lab.agents[lagging] else { return }
            agent.signal(SIGSTOP)
            defer { agent.signal(SIGCONT) }
            for _ in 0..<8 {
                try await self.churnOnce()
                try await Task.sleep(for: .milliseconds(400))
            }
        }
        let busiest = try busiestNode()
        try await fault("keepalived_sigkill") {
            if let pid = self.lab.keepalivedPid(busiest) { kill(-pid, SIGKILL) }
        }
        let other = lab.nodes.first { $0 != busiest } ?? busiest
        try await fault("agent_sigkill_and_restart") {
            if let agent = self.lab.agents[other] {
                agent.signal(SIGKILL)
                _ = await agent.exitStatus()
            }
            try await Task.sleep(for: .seconds(1))
            try self.lab.startAgent(other)
        }
        let flapped = try busiestNode()
        try await fault("link_down_3s") {
            try mustRun(["ip", "-n", self.lab.netns(flapped), "link", "set", "eth0", "down"])
            try await Task.sleep(for: .seconds(3))
            try mustRun(["ip", "-n", self.lab.netns(flapped), "link", "set", "eth0", "up"])
        }
    }

    /// Runs one fault, then leaves time for the VIPs to settle (and to move back after the 5 s
    /// preempt delay), which belongs to the fault's window.
    func fault(_ type: String, _ body: @Sendable () async throws -> Void) async throws {
        let start = Self.now()
        try await body()
        try await Task.sleep(for: .seconds(8))
        faults.append((type, start, Self.now()))
    }

    func tampering() { configMapTamperedAt = Self.now() }

    func busiestNode() throws -> String {
        var counts: [String: Int] = [:]
        for vip in steadyVIPs.keys { for node in try lab.holders(vip) { counts[node, default: 0] += 1 } }
        return counts.max { $0.value < $1.value }?.key ?? lab.nodes[0]
    }

    // MARK: - Invariants

    /// Continuously: no VIP held by two nodes longer than the failover window; no address on two
    /// LoadBalancer Services; a steady Service's status and the ConfigMap agree.
    func sample() async {
        var lastControlCheck = ContinuousClock.now
        while samplersRunning {
            checkHolders()
            if ContinuousClock.now - lastControlCheck > .seconds(1) {
                lastControlCheck = .now
                await checkControlPlane()
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }

    func checkHolders() {
        let now = Self.now()
        var held: [String: [String]] = [:]
        for node in lab.nodes {
            for address in (try? lab.lab.addresses(in: lab.netns(node))) ?? [] where address.hasPrefix("203.0.113.") {
                held[address, default: []].append(node)
            }
        }
        for (vip, nodes) in held where nodes.count > 1 {
            let since = doubleHeldSince[vip] ?? now
            doubleHeldSince[vip] = since
            if now - since > failoverWindow {
                violation("\(vip) held by \(nodes.sorted().joined(separator: " and ")) for over \(failoverWindow) s")
            }
        }
        for vip in doubleHeldSince.keys where (held[vip]?.count ?? 0) < 2 { doubleHeldSince[vip] = nil }
    }

    func checkControlPlane() async {
        guard let services = try? await lab.admin.list(Service.self, namespace: lab.namespace).items,
            let configMap = try? await lab.admin.get(ConfigMap.self, namespace: lab.namespace, name: "vip-configmap")
        else { return }
        var owners: [String: String] = [:]
        for service in services where service.spec.type == .loadBalancer && service.metadata.deletionTimestamp == nil {
            for ip in service.status.loadBalancer.ingress.compactMap(\.ip) {
                if let other = owners[ip] { violation("\(ip) on both \(other) and \(service.metadata.name ?? "")") }
                owners[ip] = service.metadata.name ?? ""
            }
        }
        // The ConfigMap faults change it on purpose; the controller puts it right within moments.
        if let since = configMapTamperedAt, Self.now() - since < 3 { return }
        for (vip, name) in steadyVIPs where configMap.data[vip] != "\(lab.namespace)/\(name)" {
            violation("ConfigMap maps \(vip) to \(configMap.data[vip] ?? "nothing"), status says \(name)")
        }
    }

    /// After the faults: every LoadBalancer Service served (or carrying a Warning), status,
    /// ConfigMap data, ledger annotation and plan agree exactly. Returns the time it took.
    func converge() async throws -> Double {
        let start = ContinuousClock.now
        var lastProblem = ""
        let deadline = start + .seconds(90)
        while ContinuousClock.now < deadline {
            if let problem = await controlPlaneProblem() {
                lastProblem = problem
            } else if let problem = dataPlaneProblem() {
                lastProblem = problem
            } else {
                return milliseconds(ContinuousClock.now - start)
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        violation("did not converge within 90 s: \(lastProblem)")
        return milliseconds(ContinuousClock.now - start)
    }

    func finalInvariants() async throws {
        await checkControlPlane()
        if let problem = await controlPlaneProblem() { violation("after convergence: \(problem)") }
    }

    func controlPlaneProblem() async -> String? {
        guard let services = try? await lab.admin.list(Service.self, namespace: lab.namespace).items,
            let configMap = try? await lab.admin.get(ConfigMap.self, namespace: lab.namespace, name: "vip-configmap"),
            let events = try? await lab.admin.list(Event.self, namespace: lab.namespace).items
        else { return "API not answering" }
        var expected: [String: String] = [:]
        for service in services where service.metadata.deletionTimestamp == nil {
            let name = service.metadata.name ?? ""
            let ips = service.status.loadBalancer.ingress.compactMap(\.ip)
            if service.spec.type == .loadBalancer {
                if ips.isEmpty {
                    let warned = events.contains { $0.involvedObject.name == name && $0.type == "Warning" }
                    if !warned { return "\(name) has neither an address nor a Warning" }
                }
                for ip in ips { expected[ip] = "\(lab.namespace)/\(name)" }
            } else if !ips.isEmpty {
                return "\(name) is \(service.spec.type?.rawValue ?? "?") but its status still names \(ips)"
            }
        }
        let data = configMap.data.filter { $0.key.hasPrefix("203.") }
        if data != expected {
            return "ConfigMap \(data.sorted { $0.key < $1.key }) but statuses \(expected.sorted { $0.key < $1.key })"
        }
        let ledger = configMap.metadata.annotations["k8s.co/cloud-provider-config"] ?? ""
        for ip in expected.keys where !ledger.contains("\"\(ip)\"") { return "ledger annotation lacks \(ip)" }
        guard let planText = configMap.data["keepalived-lb.vrrp-plan"] else { return "no plan" }
        for ip in expected.keys where !planText.contains("\"\(ip)\"") { return "plan lacks \(ip)" }
        return nil
    }

    func dataPlaneProblem() -> String? {
        for vip in routedVIPs.sorted() {
            let hops = (try? lab.bgpNextHops(vip)) ?? []
            if hops.count != lab.nodes.count { return "\(vip) announced by \(hops)" }
        }
        for vip in steadyVIPs.keys.sorted() where !routedVIPs.contains(vip) {
            let holders = (try? lab.holders(vip)) ?? []
            if holders.count != 1 { return "\(vip) held by \(holders)" }
        }
        return nil
    }

    /// Deletes every Service: the ConfigMap empties and no VIP stays on any interface; then the
    /// agents stop cleanly and leave no keepalived and no VIP behind.
    func deleteEverythingAndCheckNothingLeaks() async throws {
        for service in try await lab.admin.list(Service.self, namespace: lab.namespace).items {
            try? await lab.admin.delete(Service.self, namespace: lab.namespace, name: service.metadata.name ?? "")
        }
        let routed = routedVIPs
        try await waitUntil(seconds: 60, "every address released after the deletes") {
            let data =
                (try? await self.lab.admin.get(ConfigMap.self, namespace: self.lab.namespace, name: "vip-configmap")
                    .data) ?? [:]
            let left = try await self.lab.admin.list(Service.self, namespace: self.lab.namespace).items.count
            let onInterfaces = try self.lab.nodes.flatMap { try self.lab.lab.addresses(in: self.lab.netns($0)) }
                .filter { $0.hasPrefix("203.0.113.") }
            let announced = try routed.filter { !(try self.lab.bgpNextHops($0)).isEmpty }
            return left == 0 && !data.keys.contains { $0.hasPrefix("203.") } && onInterfaces.isEmpty
                && announced.isEmpty
        }
        for (node, agent) in lab.agents {
            agent.signal(SIGTERM)
            let status = await agent.exitStatus()
            if status != 0 { violation("agent on \(node) exited \(status) on SIGTERM") }
            let config = lab.stateDirectory(node) + "/bird/bird.conf"
            if let bird = runningProcesses(withArgument: config).first {
                violation("bird \(bird) of \(node) outlived its agent")
                kill(bird, SIGKILL)
            }
            if let pid = lab.keepalivedPid(node), kill(pid, 0) == 0,
                !((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z") ?? true)
            {
                violation("keepalived \(pid) of \(node) outlived its agent")
            }
        }
        lab.agents = [:]
        for node in lab.nodes {
            let left = try lab.lab.addresses(in: lab.netns(node)).filter { $0.hasPrefix("203.0.113.") }
            if !left.isEmpty { violation("orphan VIPs on \(node): \(left)") }
        }
    }

    func waitUntil(seconds: Int, _ what: String, _ condition: @Sendable () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        violation("timed out after \(seconds) s waiting for: \(what)")
        throw TestEnvironmentError(message: "timed out waiting for: \(what)")
    }

    // MARK: - What the client saw

    /// Longest unanswered gap of a steady VIP per fault type; any gap past the failover window is
    /// a violation, whatever caused it.
    func gapsReport() {
        if let keep = ProcessInfo.processInfo.environment["KLB_CHAOS_KEEP"] {
            try? FileManager.default.removeItem(atPath: keep + ".probe.jsonl")
            try? FileManager.default.copyItem(atPath: probeOutput, toPath: keep + ".probe.jsonl")
            let windows = faults.map { "\($0.type) \($0.start) \($0.end)" }.joined(separator: "\n")
            try? windows.write(toFile: keep + ".faults", atomically: true, encoding: .utf8)
            try? FileManager.default.removeItem(atPath: keep + ".state")
            try? FileManager.default.copyItem(atPath: lab.stateRoot, toPath: keep + ".state")
        }
        let records = ProbeRecords(path: probeOutput)
        guard records.readable else {
            violation("the probe wrote nothing")
            return
        }
        var longest: [String: Double] = [:]
        for (vip, start, end) in records.gaps {
            let gap = end - start
            let causes = faults.filter { $0.start - 1 <= end && start <= $0.end }.map(\.type)
            for cause in causes.isEmpty ? ["none"] : causes { longest[cause] = max(longest[cause] ?? 0, gap) }
            if gap > failoverWindow {
                violation(
                    String(
                        format: "%@ (%@) unanswered for %.2f s during %@", vip, steadyVIPs[vip] ?? "?", gap,
                        causes.isEmpty ? "no fault" : causes.joined(separator: "+")))
            }
        }
        for type in Set(faults.map(\.type)).union(["none"]).sorted() {
            report("longest_gap_\(type)", (longest[type] ?? 0) * 1000, "ms")
        }
        report("probe_answers", Double(records.answered), "count")
        if !routedVIPs.isEmpty {
            // The BGP pool's VIPs apart: ECMP spreads each VIP's attempts over every node, so a node lost costs
            // single attempts rather than a gap.
            let routedGaps = records.gaps.filter { routedVIPs.contains($0.vip) }
            report("routed_vips", Double(routedVIPs.count), "count")
            report("routed_gaps", Double(routedGaps.count), "count")
            report("longest_gap_routed", (routedGaps.map { $0.end - $0.start }.max() ?? 0) * 1000, "ms")
        }
    }

    func stopEverything() async {
        samplersRunning = false
        if routedCount > 0 {
            let kubectl = ["kubectl", "--kubeconfig", lab.cluster.adminKubeconfig]
            _ = try? runCommand(kubectl + ["delete", "bgppeer", "\(lab.namespace)-tor", "--wait=false"])
        }
        probe?.signal(SIGTERM)
        for case let process? in controllers { await process.stop(grace: .seconds(2)) }
        controllers = [nil, nil]
    }
}

// MARK: - BGP beside VRRP

extension Chaos {
    var bgpPool: String { "\(lab.namespace)-bgp" }

    /// A BGP pool (asked for by annotation only), the router as a BGPPeer of every node, the router itself in the
    /// client's namespace, and on each node the part of kube-proxy that matters here: the pool's addresses DNATed
    /// to the node's own echo server.
    func setUpBGP() async throws {
        try lab.installBGPPeerResource()
        try await lab.applyBGPObjects(
            peer: "\(lab.namespace)-tor", bfdInterval: 100, bfdMultiplier: 3, preferred: false)
        for (node, index) in zip(lab.nodes, 11...) {
            let rules = lab.stateRoot + "/\(node)-dnat.nft"
            try """
            table inet lab-lb {
                chain pre { type nat hook prerouting priority -100;
                    ip daddr 203.0.113.128/27 dnat ip to 192.0.2.\(index)
                }
            }
            """.write(toFile: rules, atomically: true, encoding: .utf8)
            try mustRun(["ip", "netns", "exec", lab.netns(node), "nft", "-f", rules])
        }
        try lab.startBGPRouter()
    }

    /// Live processes (not zombies) with `argument` on their command line.
    func runningProcesses(withArgument argument: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { pid in
            guard let cmdline = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
            else { return false }
            return cmdline.split(separator: "\0").contains(Substring(argument)) && !stat.contains(") Z")
        }
    }
}
