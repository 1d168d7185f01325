import Foundation
import IPAM
import Keepalived
import Testing

@Suite("What VRRP adverts list")
struct AdvertisedAddressesTests {
    static func plan(cluster: String = "fcp", vips: [String]) throws -> VRRPPlan {
        let planner = try VRRPPlanner(cluster: cluster, vrids: VRIDRange(parsing: "50-53"), groups: 4)
        return try planner.plan(addresses: vips.map { try IPAddress($0) }, nodes: ["node-a", "node-b"])
    }

    /// The `virtual_ipaddress` blocks (what keepalived puts in its adverts and compares), in order.
    static func advertBlocks(_ text: String) -> [String] {
        text.components(separatedBy: "    virtual_ipaddress {\n").dropFirst().map {
            String($0.prefix { $0 != "}" }.dropLast(4))
        }
    }

    /// keepalived drops an advert whose list differs from its own: a node still on the previous plan
    /// must list exactly what the others list, while the VIPs themselves differ.
    @Test func tokenAdvertsListTheSameWhateverVIPsTheInstanceCarries() throws {
        let before = try Self.plan(vips: ["10.210.1.65", "10.210.1.66", "2001:db8:1::65"])
        let after = try Self.plan(vips: ["10.210.1.65", "10.210.1.66", "10.210.1.67", "10.210.1.68", "2001:db8:1::65"])
        let node = try NodeSettings(nodeName: "node-a", interface: "eth0", sourceAddresses: [], unicastPeers: [])
        for instance in before.instances {
            let later = try #require(after.instances.first { $0.vrid == instance.vrid && $0.family == instance.family })
            #expect(before.advertisedAddresses(of: instance, .token) == after.advertisedAddresses(of: later, .token))
        }
        let old = KeepalivedConfig.render(plan: before, node: node)
        let new = KeepalivedConfig.render(plan: after, node: node)
        #expect(old != new)
        let shared = Set(before.instances.map(\.vrid)).intersection(after.instances.map(\.vrid))
        #expect(shared.count >= 2)
        for block in Self.advertBlocks(old) where shared.contains(where: { block.contains(".\($0)/32 dev lo") }) {
            #expect(Self.advertBlocks(new).contains(block))
        }
        #expect(new.contains("    virtual_ipaddress_excluded {\n        10.210.1.6"))
        #expect(!Self.advertBlocks(new).joined().contains("10.210."), "no VIP in any advert")
    }

    /// Until every agent renders tokens, the adverts list the VIPs as before.
    @Test func vipAdvertsRenderAsAgentsBeforeTheToken() throws {
        let plan = try Self.plan(vips: ["10.210.1.65", "2001:db8:1::65"])
        let node = try NodeSettings(nodeName: "node-a", interface: "eth0", sourceAddresses: [], unicastPeers: [])
        let text = KeepalivedConfig.render(plan: plan, node: node, adverts: .vips)
        #expect(!text.contains("virtual_ipaddress_excluded") && !text.contains(" dev lo"))
        #expect(
            Self.advertBlocks(text).sorted() == [
                "        10.210.1.65/32 dev eth0\n", "        2001:db8:1::65/128 dev eth0\n",
            ])
        for instance in plan.instances { #expect(plan.advertisedAddresses(of: instance, .vips) == instance.addresses) }
    }

    /// Tokens sit where nothing routes to them (127.128.0.0/9 on lo, fe80::/64), never 127.0.0.x, one per
    /// VRID and family, and two clusters' tokens differ.
    @Test func tokensAreLoopbackOrLinkLocalAndDistinct() throws {
        for cluster in ["fcp", "a", "prod-eu-1", "x" + String(repeating: "y", count: 62)] {
            let v4 = try (1...255).map { vrid in
                try VRRPPlan(
                    cluster: cluster, nodes: ["n"],
                    instances: [.init(vrid: vrid, family: .ipv4, preferred: 0, addresses: [IPAddress("10.210.1.1")])])
            }.flatMap(\.tokens)
            #expect(Set(v4).count == 255)
            #expect(v4.allSatisfy { $0.value >> 23 == 0x7f << 1 | 1 }, "127.128.0.0/9: \(v4.prefix(2))")
            let v6 = try VRRPPlan(
                cluster: cluster, nodes: ["n"],
                instances: [.init(vrid: 7, family: .ipv6, preferred: 0, addresses: [IPAddress("2001:db8::1")])]
            ).tokens
            #expect(v6.count == 1 && v6[0].value >> 64 == 0xfe80 << 48 && v6[0].value & 0xff == 7, "\(v6)")
        }
        let one = try Self.plan(cluster: "one", vips: ["10.210.1.65"])
        let two = try Self.plan(cluster: "two", vips: ["10.210.1.65"])
        #expect(one.tokens != two.tokens)
    }

    /// An agent before the token publishes no `tokenAdverts`: while one runs on a node of the plan,
    /// everyone lists the VIPs; a node that published nothing readable is in no election.
    @Test func tokensOnlyOnceEveryOtherNodeRendersThem() throws {
        let old = try #require(NodeVRRPState(annotation: #"{"keepalived":"running","instances":{},"vips":[]}"#))
        let new = try #require(NodeVRRPState(annotation: NodeVRRPState(running: true, instances: [:], vips: []).json()))
        #expect(old.tokenAdverts == nil && new.tokenAdverts == true)
        #expect(AdvertisedAddresses.agreed(byPeers: []) == .token)
        #expect(AdvertisedAddresses.agreed(byPeers: [new, nil, new]) == .token)
        #expect(AdvertisedAddresses.agreed(byPeers: [new, old]) == .vips)
        #expect(AdvertisedAddresses.agreed(byPeers: [NodeVRRPState(annotation: "{garbage")]) == .token)
    }
}
