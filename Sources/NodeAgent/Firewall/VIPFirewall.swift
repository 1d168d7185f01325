public import IPAM
public import Keepalived

/// The nftables table that lets through to a VIP only what its Services publish (their protocol/port pairs,
/// ICMP echo, IPv6 neighbour discovery, replies to connections already let through), so a VIP never reaches
/// the node's own listeners (sshd, the kubelet, the agent's endpoints) or its NodePorts. It hooks prerouting
/// before kube-proxy's NAT (priority -150 < -100): allowed packets go on to kube-proxy's DNAT as before.
/// The agent owns this one table and replaces it whole in one transaction; it touches nothing else.
public enum VIPFirewall {
    public static let table = "keepalived_lb"

    /// The nft script for `plan` (the plan as this node applies it). VIPs without a port list (a plan from an
    /// older controller) are left unfiltered. Routed VIPs (BGP pools) too: without the filter a packet for another
    /// port, which kube-proxy does not take, would be forwarded on by the node.
    /// `only`: filter just these VIPs (those a stopping agent leaves on the node); nil: every VIP of the plan.
    /// `handover`: the rules that keep Cluster connections across a move (`ConnectionHandover`); nil: none.
    public static func script(for plan: VRRPPlan, only: Set<IPAddress>? = nil, handover: Handover? = nil) -> String {
        var vips: [IPFamily: [IPAddress]] = [.ipv4: [], .ipv6: []]
        var allowed: [IPFamily: [String]] = [.ipv4: [], .ipv6: []]
        func filter(_ address: IPAddress, _ ports: [VIPPort]) {
            guard only?.contains(address) ?? true else { return }
            vips[address.family, default: []].append(address)
            for port in ports {
                allowed[address.family, default: []].append(
                    "\(address) . \(port.transport.rawValue.lowercased()) . \(port.port)")
            }
        }
        for instance in plan.instances {
            for address in instance.addresses {
                if let ports = instance.ports[address] { filter(address, ports) }
            }
        }
        for route in plan.routes where !route.ports.isEmpty { filter(route.address, route.ports) }
        var out = "table inet \(table)\ndelete table inet \(table)\ntable inet \(table) {\n"
        if let handover, only == nil { out += handover.sets(for: plan) }
        for (family, name, type) in [(IPFamily.ipv4, "4", "ipv4_addr"), (.ipv6, "6", "ipv6_addr")] {
            out += "    set vips\(name) {\n        type \(type)\n"
            if let list = vips[family], !list.isEmpty {
                out += "        elements = { \(Set(list).sorted().map(\.description).joined(separator: ", ")) }\n"
            }
            out += "    }\n"
            out += "    set allowed\(name) {\n        type \(type) . inet_proto . inet_service\n"
            if let list = allowed[family], !list.isEmpty {
                out += "        elements = { \(Set(list).sorted().joined(separator: ", ")) }\n"
            }
            out += "    }\n"
        }
        let guards = only == nil ? handover.map { Handover.releasingGuards + $0.waitingGuards() } ?? "" : ""
        out += """
                chain prerouting {
                    type filter hook prerouting priority -150; policy accept;
            \(guards)        ip daddr @vips4 jump vip
                    ip6 daddr @vips6 jump vip
                }
                chain vip {
                    ct state established,related accept
                    ip daddr . meta l4proto . th dport @allowed4 accept
                    ip6 daddr . meta l4proto . th dport @allowed6 accept
                    icmp type echo-request accept
                    icmpv6 type { echo-request, nd-neighbor-solicit, nd-neighbor-advert } accept
                    counter drop
                }

            """
        if let handover, only == nil {
            out += Handover.guardChain(mark: handover.masqueradeMark) + Handover.snat(mark: handover.masqueradeMark)
        }
        out += "}\n"
        return out
    }

    /// Removes the table (agent stopping); nothing else.
    public static var removal: String { "table inet \(table)\ndelete table inet \(table)\n" }
}
