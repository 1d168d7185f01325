import ArgumentParser
import BenchSupport
import Foundation
import IPAM
import Keepalived
import KubeClient
import TestLab

/// What a user feels: create a LoadBalancer Service → first TCP answer through its VIP from the
/// client namespace; delete it → the VIP answers no more and is on no interface. The real
/// controller and agents (release builds), keepalived in namespaces.
struct E2EBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "e2e", abstract: "Create → first response, delete → withdrawn.")

    @Option(help: "The keepalived-cloud-provider binary (release build).")
    var controllerBinary: String

    @Option(help: "The keepalived-vip-agent binary (release build).")
    var agentBinary: String

    @Option(help: "Samples per case.")
    var repeats = 20

    static let vrids = "30-33"
    static let groups = 4

    func run() async throws {
        let lab = try await AgentLab()
        lab.agentPath = agentBinary
        var controller: ChildProcess?
        do {
            try FileManager.default.createDirectory(atPath: lab.stateRoot, withIntermediateDirectories: true)
            controller = try lab.spawnController(
                binary: controllerBinary, cluster: "bench", vrids: Self.vrids, groups: Self.groups,
                log: "controller.log")
            try lab.startEchoServers()
            for node in lab.nodes { try lab.startAgent(node) }
            try await measure(lab)
        } catch {
            await controller?.stop(grace: .seconds(2))
            await lab.tearDown()
            throw error
        }
        await controller?.stop(grace: .seconds(2))
        await lab.tearDown()
    }

    func measure(_ lab: AgentLab) async throws {
        let planner = try VRRPPlanner(cluster: "bench", vrids: VRIDRange(parsing: Self.vrids), groups: Self.groups)
        let pool = try (100...126).map { try IPAddress("203.0.113.\($0)") }
        // An anchor keeps group 0's instance running: VIPs of that group join it. Group 1 has no
        // other VIP, so each of its VIPs starts a new instance (and deletes it when it goes).
        let joining = pool.filter { planner.group(of: $0) == 0 }
        let starting = pool.filter { planner.group(of: $0) == 1 }
        guard let anchor = joining.first, joining.count > 1, !starting.isEmpty else {
            throw BenchError("no addresses for both cases")
        }
        try await create(lab, "anchor", address: anchor)
        try await waitUntil(.seconds(30)) { try lab.holders(anchor.description).count == 1 }

        var joinSamples: [Double] = []
        var newSamples: [Double] = []
        var deleteSamples: [Double] = []
        for index in 0..<repeats {
            for (address, isNew) in [
                (joining[1 + index % (joining.count - 1)], false), (starting[index % starting.count], true),
            ] {
                let name = "e2e-\(index)-\(isNew ? "new" : "join")"
                let output = lab.stateRoot + "/e2e-create.out"
                // Like a user: create, wait for the EXTERNAL-IP, connect. (A client that connects
                // before the address exists gets a failed ARP entry and measures its own kernel.)
                let goFile = lab.stateRoot + "/e2e-go"
                let probe = try Timeline.probe(
                    lab, vip: address.description, seconds: 10, output: output, until: "any", goFile: goFile)
                try await Task.sleep(for: .milliseconds(300))
                let start = Date().timeIntervalSince1970
                try await create(lab, name, address: address)
                while try await lab.admin.get(Service.self, namespace: lab.namespace, name: name).status.loadBalancer
                    .ingress.isEmpty
                {
                    guard Date().timeIntervalSince1970 - start < 10 else {
                        throw BenchError("\(name) got no EXTERNAL-IP")
                    }
                    try await Task.sleep(for: .milliseconds(2))
                }
                _ = FileManager.default.createFile(atPath: goFile, contents: nil)
                guard await probe.exitStatus() == 0, let answered = try Timeline(path: output).firstAnswer(after: start)
                else {
                    let status = try? await lab.admin.get(Service.self, namespace: lab.namespace, name: name).status
                        .json
                    let log =
                        (try? String(contentsOfFile: lab.stateRoot + "/controller.log", encoding: .utf8))?.suffix(1500)
                        ?? ""
                    let seen =
                        (try? String(contentsOfFile: output, encoding: .utf8)).map {
                            "\($0.prefix(200)) … \($0.suffix(200))"
                        } ?? "no probe output"
                    throw BenchError(
                        "\(name) (\(address)) never answered; probe: \(seen); holders "
                            + "\((try? lab.holders(address.description)) ?? []), status "
                            + "\(String(describing: status)), controller: \(log)"
                    )
                }
                let sample = (answered - start) * 1000
                if isNew { newSamples.append(sample) } else { joinSamples.append(sample) }
                try await Task.sleep(for: .milliseconds(200))

                let deleted = ContinuousClock.now
                try await lab.admin.delete(Service.self, namespace: lab.namespace, name: name)
                while try !lab.holders(address.description).isEmpty {
                    guard ContinuousClock.now - deleted < .seconds(10) else {
                        throw BenchError("\(address) never withdrawn")
                    }
                    try await Task.sleep(for: .milliseconds(2))
                }
                deleteSamples.append(milliseconds(ContinuousClock.now - deleted))
                try await waitUntil(.seconds(10)) { !(try self.answers(lab, address.description)) }
                try await Task.sleep(for: .milliseconds(300))
            }
        }
        report(suite: "e2e", name: "create_to_first_response_join_p50", value: percentile(joinSamples, 50), unit: "ms")
        report(suite: "e2e", name: "create_to_first_response_join_p99", value: percentile(joinSamples, 99), unit: "ms")
        report(
            suite: "e2e", name: "create_to_first_response_new_instance_p50", value: percentile(newSamples, 50),
            unit: "ms")
        report(
            suite: "e2e", name: "create_to_first_response_new_instance_p99", value: percentile(newSamples, 99),
            unit: "ms")
        report(suite: "e2e", name: "delete_to_withdrawn_p50", value: percentile(deleteSamples, 50), unit: "ms")
        report(suite: "e2e", name: "delete_to_withdrawn_p99", value: percentile(deleteSamples, 99), unit: "ms")
        let all = joinSamples + newSamples
        report(suite: "e2e", name: "create_samples_min", value: all.min() ?? .nan, unit: "ms")
        report(suite: "e2e", name: "create_samples_max", value: all.max() ?? .nan, unit: "ms")
    }

    func create(_ lab: AgentLab, _ name: String, address: IPAddress) async throws {
        var service = Service()
        service.metadata = ObjectMeta(name: name, namespace: lab.namespace)
        service.metadata.annotations = ["keepalived-lb.io/load-balancer-ips": address.description]
        service.spec.type = .loadBalancer
        service.spec.ports = [ServicePort(name: "http", port: 8080, targetPort: 8080)]
        _ = try await lab.admin.create(service)
    }

    /// One connection attempt from the client (50 ms timeout).
    func answers(_ lab: AgentLab, _ vip: String) throws -> Bool {
        try mustRun(AgentLab.labNet(in: lab.client, ["reachable", vip, "8080", "0.05"])).contains("yes")
    }
}
