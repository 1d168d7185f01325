import Foundation
import IPAM
import NodeNetwork
import TestLab
import TestTraits
import Testing

/// A VIP that moves to another node by the agent's hand (not keepalived's): its gratuitous ARP or unsolicited NA
/// must move a neighbour's cached entry to the new node's MAC, as the client's kernel sees it.
@Suite("Gratuitous ARP and unsolicited NA to a real neighbour", .serialized, .integration, .tags(.integration))
struct NeighbourAnnouncerTests {
    @Test(arguments: ["203.0.113.65", "2001:db8:1::65"])
    func aNeighboursEntryMovesToTheAnnouncingNode(vip: String) async throws {
        let lab = try NetworkLab()
        defer { lab.tearDown() }
        let sw = try lab.makeSwitch()
        let v6 = vip.contains(":")
        let old = try lab.node("old", switch: sw, cidr: "192.0.2.11/24", ipv6: v6 ? "2001:db8::11/64" : nil)
        let new = try lab.node("new", switch: sw, cidr: "192.0.2.12/24", ipv6: v6 ? "2001:db8::12/64" : nil)
        let client = try lab.node("client", switch: sw, cidr: "192.0.2.100/24", ipv6: v6 ? "2001:db8::100/64" : nil)
        let length = v6 ? 128 : 32
        // The VIPs' range is on the LAN, as the agent tests' client has it.
        try await run(["ip", "-n", client, "route", "add", v6 ? "2001:db8:1::/64" : "203.0.113.0/24", "dev", "eth0"])
        try await run(["ip", "-n", old, "addr", "add", "\(vip)/\(length)", "dev", "eth0", "nodad"])
        // The client learns the VIP at the old node, as it had before the endpoints moved.
        // The nodes' own IPv6 addresses finish duplicate address detection first.
        if v6 { try await Task.sleep(for: .milliseconds(1500)) }
        #expect(try await resolves(vip, from: client))
        let oldMAC = try await mac(old)
        #expect(try await neighbour(vip, in: client) == oldMAC)

        try await run(["ip", "-n", old, "addr", "del", "\(vip)/\(length)", "dev", "eth0"])
        let manager = try AddressManager(networkNamespace: new)
        let link = try manager.link(named: "eth0")
        let address = try IPAddress(vip)
        try manager.add(address, prefixLength: length, to: link)
        let newMAC = try manager.hardwareAddress(of: link).map { String(format: "%02x", $0) }.joined(separator: ":")
        #expect(newMAC == (try await mac(new)))
        try NeighbourAnnouncer(networkNamespace: new).announce(
            address, hardwareAddress: try manager.hardwareAddress(of: link), on: link)

        var entry: String?
        for _ in 0..<50 {
            entry = try await neighbour(vip, in: client)
            if entry == newMAC { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(entry == newMAC, "the client still sends \(vip) to \(entry ?? "nobody") (old \(oldMAC))")
        #expect(try await resolves(vip, from: client))
    }

    /// Something from `namespace` to `address` that needs its neighbour entry: a TCP connection to a closed port,
    /// answered with a reset (scripts/lib/lab-net.py; there is no ping here). True once the reset came back.
    private func resolves(_ address: String, from namespace: String) async throws -> Bool {
        let answer = try await runCommandAsync(AgentLab.labNet(in: namespace, ["reachable", address, "9", "1"])).output
        let entry = try await neighbour(address, in: namespace)
        return answer.contains("no") && entry != nil
    }

    private func mac(_ namespace: String) async throws -> String {
        try await run(["ip", "-n", namespace, "-br", "link", "show", "eth0"]).split(
            separator: " ", omittingEmptySubsequences: true)[2]
            .lowercased()
    }

    /// The client's neighbour entry for `vip`: its MAC, nil if none.
    private func neighbour(_ vip: String, in namespace: String) async throws -> String? {
        let line = try await run(["ip", "-n", namespace, "neigh", "show", vip])
        let fields = line.split(separator: " ")
        guard let index = fields.firstIndex(of: "lladdr"), index + 1 < fields.count else { return nil }
        return String(fields[index + 1]).lowercased()
    }

    /// A command that must succeed, awaited without blocking a thread the other suites run on.
    @discardableResult
    private func run(_ arguments: [String]) async throws -> String {
        let (status, output) = try await runCommandAsync(arguments)
        guard status == 0 else {
            throw TestEnvironmentError(message: "\(arguments.joined(separator: " ")) exited \(status): \(output)")
        }
        return output
    }
}
