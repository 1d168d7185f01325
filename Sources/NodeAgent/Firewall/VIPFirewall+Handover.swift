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
    ///   pod here) are dropped too: this node's own entries for them still exist and would clash;
    /// - while a VIP is on this node but not adopted (`waiting`: keepalived took it and the agent has not committed
    ///   yet), a mid-flow client packet whose entry this node did not make is dropped too. A commit for another VIP
    ///   writes this one's entries with a clashing port where its pod runs here (`waitingGuards`).
    public struct Handover: Equatable, Sendable {
        /// kube-proxy's masquerade mark (`--iptables-masquerade-bit`, 14 by default: 0x4000).
        public var masqueradeMark: UInt32
        public var adopted: Set<IPAddress>
        public var releasing: Set<IPAddress>
        /// VIPs keepalived may hold here that are neither adopted nor releasing; the rules act only while one is local.
        public var waiting: Set<IPAddress>

        public init(
            masqueradeBit: Int, adopted: Set<IPAddress> = [], releasing: Set<IPAddress> = [],
            waiting: Set<IPAddress> = []
        ) {
            masqueradeMark = 1 << UInt32(masqueradeBit)
            self.adopted = adopted
            self.releasing = releasing
            self.waiting = waiting
        }

        /// The conntrack mark bit of flows whose SYN reached this node while their VIP was waiting here: the next bit
        /// above kube-proxy's (below it for bit 31). Only those flows' entries are this node's own at that moment.
        public var ownFlowMark: UInt32 {
            masqueradeMark == 1 << 31 ? masqueradeMark >> 1 : masqueradeMark << 1
        }

        func sets(for plan: VRRPPlan) -> String {
            let moving = Set(plan.instances.flatMap(\.addresses))
            var out = ""
            let sets = [("handover", moving), ("adopted", adopted), ("releasing", releasing), ("waiting", waiting)]
            for (name, addresses) in sets {
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

        /// Also ahead of kube-proxy's NAT, where the destination is still the VIP. keepalived takes a VIP before the
        /// agent hears of it (reports wait behind a running adoption), and a commit meanwhile brings this VIP's entries
        /// too: where the flow's pod runs here, NAT gave each another port, and the client's next packet would reach
        /// the pod under it (a reset; the cluster test's rollouts). Such a packet waits for the adoption instead, which
        /// replaces those entries. A flow whose SYN came here meanwhile is marked as this node's own and passes.
        /// A local pod's answer to a flow the previous holder sent here from the VIP waits too: its transit entry does
        /// not translate it, so this node, now holding the VIP, took it as its own and reset the pod (the handover
        /// lab's move back, 1 run in 5). The adoption swaps that entry for the committed one, which does.
        func waitingGuards() -> String {
            let own = "0x" + String(ownFlowMark, radix: 16)
            let both = "0x" + String(ownFlowMark | masqueradeMark, radix: 16)
            let masquerade = "0x" + String(masqueradeMark, radix: 16)
            var out = ""
            for family in ["ip", "ip6"] {
                let set = "@waiting" + (family == "ip" ? "4" : "6")
                out += """
                            \(family) daddr \(set) tcp flags & (syn | ack) == syn ct state new fib daddr type local \
                    ct mark set ct mark | \(own)
                            \(family) daddr \(set) tcp flags & syn == 0 ct direction original \
                    ct mark & \(both) == \(masquerade) fib daddr type local counter drop
                            \(family) daddr \(set) ct direction reply ct original \(family) saddr \(set) \
                    fib daddr type local counter drop

                    """
            }
            return out
        }

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
