public import IPAM
import Keepalived

extension VIPFirewall {
    /// The rules that let a Cluster connection survive its VIP moving (RELIABILITY.md "Keeping connections across a
    /// move"), measured in `scripts/lib/handover-lab.sh`:
    /// - kube-proxy's masquerade of a VIP's flow is pre-empted by an SNAT to the VIP itself (an address every
    ///   holder has), so the conntrack entry conntrackd copies to the next holder is right there too;
    /// - until this node has committed what conntrackd learnt for a VIP it took over (`adopted`), a TCP packet to
    ///   it that is not a SYN, has no entry and is marked for masquerade is dropped (the client sends it again)
    ///   rather than taken up mid-stream as a new flow to a random endpoint, which the pod would reset;
    /// - for a second after giving a VIP up (`releasing`), such packets from the VIP (the new holder's flows to a
    ///   pod here) are dropped too: this node's own entries for them still exist and would clash.
    public struct Handover: Equatable, Sendable {
        /// kube-proxy's masquerade mark (`--iptables-masquerade-bit`, 14 by default: 0x4000).
        public var masqueradeMark: UInt32
        public var adopted: Set<IPAddress>
        public var releasing: Set<IPAddress>

        public init(masqueradeBit: Int, adopted: Set<IPAddress> = [], releasing: Set<IPAddress> = []) {
            masqueradeMark = 1 << UInt32(masqueradeBit)
            self.adopted = adopted
            self.releasing = releasing
        }

        func sets(for plan: VRRPPlan) -> String {
            let moving = Set(plan.instances.flatMap(\.addresses))
            var out = ""
            for (name, addresses) in [("handover", moving), ("adopted", adopted), ("releasing", releasing)] {
                for (family, suffix, type) in [(IPFamily.ipv4, "4", "ipv4_addr"), (.ipv6, "6", "ipv6_addr")] {
                    out += "    set \(name)\(suffix) {\n        type \(type)\n"
                    let list = addresses.filter { $0.family == family }.sorted().map(\.description)
                    if !list.isEmpty { out += "        elements = { \(list.joined(separator: ", ")) }\n" }
                    out += "    }\n"
                }
            }
            return out
        }

        /// In the VIP filter's chain, ahead of kube-proxy's NAT: packets from a VIP are no Service's traffic here.
        static let releasingGuards = """
                    ip saddr @releasing4 tcp flags & syn == 0 ct state new drop
                    ip6 saddr @releasing6 tcp flags & syn == 0 ct state new drop

            """

        /// Priority -99: just after kube-proxy's DNAT (-100), which marks a flow it masquerades. Only those (Cluster
        /// Services) can be taken over; a Local Service's flow keeps its client address, so a mid-flow packet
        /// taken up here reaches its pod under the same addresses, and dropping it would only turn a quick reset
        /// into a timeout (or stall a VIP the agent holds itself, which keepalived never reports taken).
        static func guardChain(mark: UInt32) -> String {
            let mark = "0x" + String(mark, radix: 16)
            return """
                    chain handover_guard {
                        type filter hook prerouting priority -99; policy accept;
                        meta mark & \(mark) == \(mark) ct original ip daddr @handover4 \
                ct original ip daddr != @adopted4 tcp flags & syn == 0 ct state new drop
                        meta mark & \(mark) == \(mark) ct original ip6 daddr @handover6 \
                ct original ip6 daddr != @adopted6 tcp flags & syn == 0 ct state new drop
                    }

                """
        }

        /// Priority 99: ahead of kube-proxy's masquerade (srcnat, 100); the first NAT rule that binds wins. The
        /// flow's conntrack mark gets the bit too (conntrackd syncs it): a new holder keeps only such flows.
        static func snat(mark: UInt32) -> String {
            let mark = "0x" + String(mark, radix: 16)
            return """
                    chain handover_snat {
                        type nat hook postrouting priority 99; policy accept;
                        meta mark & \(mark) == \(mark) ct original ip daddr @handover4 ct mark set ct mark | \(mark) \
                snat ip to ct original ip daddr
                        meta mark & \(mark) == \(mark) ct original ip6 daddr @handover6 ct mark set ct mark | \(mark) \
                snat ip6 to ct original ip6 daddr
                    }

                """
        }
    }
}
