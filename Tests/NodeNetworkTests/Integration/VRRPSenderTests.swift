import Foundation
import IPAM
import InMemoryAPI
import NodeNetwork
import TestLab
import TestTraits
import Testing

/// The priority-0 advert against a real keepalived backup, IPv4 and IPv6, unicast and multicast: the
/// master's keepalived is SIGKILLed (it says nothing), its VIP removed, the advert sent in its name.
@Suite("VRRP priority-0 advert to real keepalived", .serialized, .integration, .tags(.integration))
struct VRRPSenderTests {
    static func config(me: String, peer: String, priority: Int, vip: String, unicast: Bool, state: String) -> String {
        let length = vip.contains(":") ? 128 : 32
        let unicastLines = unicast ? "    unicast_src_ip \(me)\n    unicast_peer {\n        \(peer)\n    }\n" : ""
        return """
            global_defs {
                router_id t
                vrrp_version 3
            }
            vrrp_instance v {
                state \(state)
                interface eth0
                virtual_router_id 10
                priority \(priority)
                advert_int 1
            \(unicastLines)    virtual_ipaddress {
                    \(vip)/\(length) dev eth0
                }
            }

            """
    }

    @Test(arguments: [
        ("192.0.2.11", "192.0.2.12", "203.0.113.65", true),
        ("192.0.2.11", "192.0.2.12", "203.0.113.65", false),
        ("2001:db8::11", "2001:db8::12", "2001:db8:1::65", true),
        ("2001:db8::11", "2001:db8::12", "2001:db8:1::65", false),
    ])
    func aBackupTakesOverAtOnceOnPriorityZero(master: String, backup: String, vip: String, unicast: Bool) async throws {
        let lab = try NetworkLab()
        var processes: [ChildProcess] = []
        // Named after this process: if it dies, scripts/test's sweep stops the keepalived that ran from here.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "klbt-vrrp-\(getpid())-\(UUID())"
        ).path
        defer {
            for process in processes { process.signalGroup(SIGKILL) }
            lab.tearDown()
            try? FileManager.default.removeItem(atPath: directory)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let sw = try lab.makeSwitch()
        let v6 = vip.contains(":")
        var namespaces: [String] = []
        for (index, address) in [master, backup].enumerated() {
            let ns = try lab.node(
                "k\(index)", switch: sw, cidr: v6 ? "192.0.2.\(21 + index)/24" : "\(address)/24",
                ipv6: v6 ? "\(address)/64" : nil)
            namespaces.append(ns)
        }
        // IPv6 multicast needs the link-local addresses past duplicate address detection.
        try await Task.sleep(for: .seconds(v6 ? 2.5 : 0.2))
        for (index, ns) in namespaces.enumerated() {
            let me = index == 0 ? master : backup
            let peer = index == 0 ? backup : master
            let path = "\(directory)/\(index)"
            try Self.config(
                me: me, peer: peer, priority: index == 0 ? 200 : 100, vip: vip, unicast: unicast,
                state: index == 0 ? "MASTER" : "BACKUP"
            ).write(toFile: path + ".conf", atomically: true, encoding: .utf8)
            processes.append(
                try ChildProcess.spawn(
                    [
                        "ip", "netns", "exec", ns, "keepalived", "-n", "-l", "-D", "-f", path + ".conf", "-p",
                        path + ".pid", "-r", path + ".vpid", "-c", path + ".cpid",
                    ], outputPath: path + ".log", newProcessGroup: true))
        }
        #expect(try await eventually(.seconds(15)) { try lab.addresses(in: namespaces[0]).contains(vip) })
        try await Task.sleep(for: .seconds(1.5))
        #expect(try !lab.addresses(in: namespaces[1]).contains(vip), "the backup is backup")

        // The master dies without a word; its VIP goes (as the agent removes it); the advert follows.
        processes[0].signalGroup(SIGKILL)
        _ = await processes[0].exitStatus()
        let manager = try AddressManager(networkNamespace: namespaces[0])
        let link = try manager.link(named: "eth0")
        try manager.remove(try IPAddress(vip), from: link)
        let source: IPAddress
        if unicast || !v6 {
            source = try IPAddress(master)
        } else {
            source = try #require(
                try manager.addresses(on: link).map(\.address).first { $0.description.hasPrefix("fe80:") })
        }
        let destination =
            unicast ? try IPAddress(backup) : (v6 ? VRRPAdvertisement.ipv6Multicast : VRRPAdvertisement.ipv4Multicast)
        let sent = ContinuousClock.now
        try VRRPSender(networkNamespace: namespaces[0]).send(
            VRRPAdvertisement(vrid: 10, priority: 0, intervalCentiseconds: 100, addresses: [try IPAddress(vip)]),
            from: source, to: [destination], interface: "eth0")
        // Three adverts of 1 s would be the backup's master-down interval: this must be far quicker.
        #expect(try await eventually(.seconds(2)) { try lab.addresses(in: namespaces[1]).contains(vip) })
        #expect(ContinuousClock.now - sent < .milliseconds(1500), "took over on the advert, not after 3 s")
        let log = try String(contentsOfFile: "\(directory)/1.log", encoding: .utf8)
        #expect(log.contains("received priority 0 advertisement"), "\(log.suffix(800))")
    }
}
