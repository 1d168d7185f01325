import ArgumentParser
import BenchSupport
import Foundation
import IPAM
import Keepalived
import KubeClient
import NodeNetwork
import TestLab

/// Netlink against `ip` exec for the same work, and the plan-change-to-VIP latency with real
/// keepalived in network namespaces.
struct AgentBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent", abstract: "keepalived-vip-agent and the Netlink target.")

    @Option(help: "The keepalived-vip-agent binary (release build).")
    var agentBinary: String

    @Option(help: "add+remove pairs through netlink.")
    var netlinkPairs = 20_000

    @Option(help: "add+remove pairs through `ip addr`.")
    var execPairs = 300

    func run() async throws {
        let lab = try NetworkLab()
        defer { lab.tearDown() }
        let ns = try lab.namespace("nl")
        try mustRun(["ip", "-n", ns, "link", "add", "vip0", "type", "veth", "peer", "name", "vip0p"])
        try mustRun(["ip", "-n", ns, "link", "set", "vip0", "up"])
        let netlink = try AddressManager(networkNamespace: ns)
        let link = try netlink.link(named: "vip0")
        let addresses = try (1...250).map { try IPAddress("198.51.100.\($0)") }
        var start = ContinuousClock.now
        for index in 0..<netlinkPairs {
            let address = addresses[index % addresses.count]
            try netlink.add(address, to: link)
            try netlink.remove(address, from: link)
        }
        let netlinkRate = Double(netlinkPairs) / (milliseconds(ContinuousClock.now - start) / 1000)
        report(suite: "agent", name: "netlink_add_remove_per_s", value: netlinkRate, unit: "pairs/s")

        start = ContinuousClock.now
        for index in 0..<execPairs {
            let address = "\(addresses[index % addresses.count])/32"
            try mustRun(["ip", "-n", ns, "addr", "add", address, "dev", "vip0"])
            try mustRun(["ip", "-n", ns, "addr", "del", address, "dev", "vip0"])
        }
        let execRate = Double(execPairs) / (milliseconds(ContinuousClock.now - start) / 1000)
        report(suite: "agent", name: "ip_exec_add_remove_per_s", value: execRate, unit: "pairs/s")
        report(suite: "agent", name: "netlink_vs_exec_ratio", value: netlinkRate / execRate, unit: "x")

        let agents = try await AgentLab()
        agents.agentPath = agentBinary
        do {
            try await planChangeToVIP(agents)
        } catch {
            await agents.tearDown()
            throw error
        }
        await agents.tearDown()

    }

    /// A VIP added to an instance this node is master of: ConfigMap update → address on eth0.
    func planChangeToVIP(_ lab: AgentLab) async throws {
        var vips = ["203.0.113.65"]
        try await lab.writePlan(vips: vips)
        for node in lab.nodes { try lab.startAgent(node) }
        try await waitUntil(.seconds(30)) { try lab.holders("203.0.113.65") == ["n1"] }
        try await Task.sleep(for: .seconds(1))
        let netlink = try AddressManager(networkNamespace: lab.netns("n1"))
        let link = try netlink.link(named: "eth0")
        var samples: [Double] = []
        for index in 0..<9 {
            let vip = try IPAddress("203.0.113.\(66 + index)")
            vips.append(vip.description)
            let start = ContinuousClock.now
            try await lab.writePlan(vips: vips)
            while try !netlink.addresses(on: link).contains(where: { $0.address == vip }) {
                guard ContinuousClock.now - start < .seconds(10) else {
                    throw BenchError("VIP \(vip) never appeared on n1")
                }
                try await Task.sleep(for: .milliseconds(1))
            }
            samples.append(milliseconds(ContinuousClock.now - start))
            try await Task.sleep(for: .milliseconds(300))
        }
        samples.sort()
        report(suite: "agent", name: "plan_change_to_vip", value: samples[samples.count / 2], unit: "ms")
    }
}

func waitUntil(_ timeout: Duration, _ condition: () throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        guard ContinuousClock.now < deadline else { throw BenchError("condition not reached within \(timeout)") }
        try await Task.sleep(for: .milliseconds(10))
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
