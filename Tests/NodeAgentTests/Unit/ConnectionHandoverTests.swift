import Foundation
import IPAM
import Keepalived
import Testing

@testable import NodeAgent

/// Connection handover as decisions and text (`--keep-connections`): no nft, conntrackd or namespaces.
@Suite("Connection handover (no I/O)")
struct ConnectionHandoverTests {
    private let vip = try! IPAddress("203.0.113.65")

    private let other = try! IPAddress("203.0.113.66")

    /// `vip` alone in one instance, or with `other` each in an instance of its own.
    private func plan(withOther: Bool = false) throws -> VRRPPlan {
        let addresses = withOther ? [vip, other] : [vip]
        let port = try VIPPort(parsing: "TCP/80")
        return try VRRPPlanner(
            cluster: "fcp", vrids: VRIDRange(parsing: withOther ? "50-51" : "50-50"), groups: addresses.count
        )
        .plan(
            addresses: addresses, nodes: ["a", "b"], placement: Placement(),
            ports: Dictionary(uniqueKeysWithValues: addresses.map { ($0, [port]) })
        ).plan
    }

    private func firewalls(_ actions: [AgentStateMachine.Action]) -> [String] {
        actions.compactMap { if case .applyFirewall(let script) = $0 { script } else { nil } }
    }

    private func report(_ state: NotifyMessage.State) -> AgentStateMachine.Event {
        .stateReported(NotifyMessage(instance: "fcp_v4_50", state: state, priority: 200))
    }

    @Test func takingAVIPAdoptsItsConnectionsAndTheGuardLiftsOnceCommitted() throws {
        var machine = AgentStateMachine(nodeName: "a", filtersVIPs: true, handoverMasqueradeBit: 14)
        let started = machine.handle(.planChanged(try plan(), config: "v1"))
        let first = try #require(firewalls(started).first)
        #expect(first.contains("snat ip to ct original ip daddr"), "kube-proxy's masquerade pre-empted")
        #expect(first.contains("meta mark & 0x4000 == 0x4000"))
        #expect(
            first.contains(
                "ct original ip6 daddr @handover6 ct mark set ct mark | 0x4000 snat ip6 to ct original ip6 daddr\n"),
            "the flow is marked as one a new holder keeps")
        // After kube-proxy's DNAT, and only for what it masquerades: a Local Service's flows are never guarded.
        #expect(first.contains("type filter hook prerouting priority -99;"))
        #expect(
            first.contains(
                "meta mark & 0x4000 == 0x4000 ct original ip daddr @handover4 ct original ip daddr != @adopted4"
                    + " tcp flags & syn == 0 ct state new drop"))
        #expect(!first.contains("        ip daddr @handover4"), "not ahead of kube-proxy's NAT")
        #expect(!started.contains { if case .adoptConnections = $0 { true } else { false } }, "nothing held yet")

        let master = machine.handle(report(.master))
        #expect(master.contains(.adoptConnections([vip])))
        #expect(firewalls(master).isEmpty, "guarded until committed")
        let adopted = machine.handle(.connectionsAdopted([vip]))
        #expect(machine.adopted == [vip])
        #expect(
            firewalls(adopted).first?.contains("set adopted4 {\n        type ipv4_addr\n        elements = { \(vip) }")
                == true)
        #expect(machine.handle(report(.master)).isEmpty, "a repeat adopts nothing")
    }

    /// A VIP waits (its mid-flow packets on entries this node did not make are held, while it is local) from before
    /// it is held until its connections are adopted, and again once its release grace ends; never while adopted or
    /// releasing. The rules sit ahead of kube-proxy's NAT, where the destination is still the VIP.
    @Test func aVIPWaitsUntilAdoptedAndNotWhileReleasing() throws {
        func waiting(_ script: String?) -> Bool? {
            script.map { $0.contains("set waiting4 {\n        type ipv4_addr\n        elements = { \(vip) }") }
        }
        var machine = AgentStateMachine(nodeName: "a", filtersVIPs: true, handoverMasqueradeBit: 14)
        let started = try #require(firewalls(machine.handle(.planChanged(try plan(), config: "v1"))).first)
        #expect(waiting(started) == true, "keepalived may take it before the agent hears")
        #expect(
            started.contains(
                "        ip daddr @waiting4 tcp flags & (syn | ack) == syn ct state new fib daddr type local"
                    + " ct mark set ct mark | 0x8000\n"),
            "a flow whose SYN comes here meanwhile is this node's own")
        #expect(
            started.contains(
                "        ip daddr @waiting4 tcp flags & syn == 0 ct direction original ct mark & 0xc000 == 0x4000"
                    + " fib daddr type local counter drop\n"))
        #expect(
            started.contains(
                "        ip daddr @waiting4 ct direction reply ct original ip saddr @waiting4 fib daddr type local"
                    + " counter drop\n"),
            "a local pod's answer to a flow the previous holder sent here from the VIP")
        #expect(
            started.range(of: "@waiting4")!.lowerBound < started.range(of: "ip daddr @vips4 jump vip")!.lowerBound,
            "ahead of the VIP filter's verdicts")
        _ = machine.handle(report(.master))
        #expect(waiting(machine.firewall) == true, "taken, not yet committed")
        #expect(waiting(firewalls(machine.handle(.connectionsAdopted([vip]))).first) == false)
        #expect(waiting(firewalls(machine.handle(report(.backup))).first) == false, "releasing: its own guards")
        #expect(waiting(firewalls(machine.handle(.connectionsReleased([vip]))).first) == true)
        #expect(VIPFirewall.Handover(masqueradeBit: 31).ownFlowMark == 1 << 30)
    }

    @Test func givingAVIPUpGuardsItsFlowsForTheGraceThenForgetsThem() throws {
        var machine = AgentStateMachine(nodeName: "a", filtersVIPs: true, handoverMasqueradeBit: 14)
        _ = machine.handle(.planChanged(try plan(), config: "v1"))
        _ = machine.handle(report(.master))
        _ = machine.handle(.connectionsAdopted([vip]))

        let backup = machine.handle(report(.backup))
        #expect(backup.contains(.releaseConnections([vip])))
        #expect(machine.adopted.isEmpty && machine.releasing == [vip])
        let guarded = try #require(firewalls(backup).first)
        #expect(guarded.contains("set releasing4 {\n        type ipv4_addr\n        elements = { \(vip) }"))
        #expect(guarded.contains("ip saddr @releasing4 tcp flags & syn == 0 ct state new drop"))
        let released = machine.handle(.connectionsReleased([vip]))
        #expect(machine.releasing.isEmpty)
        #expect(firewalls(released).first?.contains("elements = { \(vip) }\n    }\n    set releasing4") == false)
    }

    /// keepalived killed here and restarted at once can win its VIP back within the grace (the netns lab saw it
    /// back in 60 ms): deleting the entries then reset the flows this node serves again.
    @Test func aVIPTakenBackWithinTheGraceKeepsItsEntries() throws {
        var machine = AgentStateMachine(nodeName: "a", filtersVIPs: true, handoverMasqueradeBit: 14)
        _ = machine.handle(.planChanged(try plan(), config: "v1"))
        _ = machine.handle(report(.master))
        _ = machine.handle(.connectionsAdopted([vip]))
        #expect(machine.handle(.keepalivedExited(status: 9)).contains(.releaseConnections([vip])))
        #expect(machine.releasable([vip]) == [vip], "given up and not back: its entries go")
        _ = machine.handle(.restartTimerFired)
        #expect(machine.handle(report(.master)).contains(.adoptConnections([vip])))
        #expect(machine.releasable([vip]).isEmpty, "taken back: its flows are served here again")
        _ = machine.handle(.connectionsReleased([vip]))

        // Given up again before the first grace ended: only the second release deletes.
        _ = machine.handle(.connectionsAdopted([vip]))
        #expect(machine.handle(report(.backup)).contains(.releaseConnections([vip])))
        _ = machine.handle(report(.master))
        #expect(machine.handle(report(.backup)).contains(.releaseConnections([vip])))
        #expect(machine.releasable([vip]).isEmpty, "the first grace ended, the second not")
        _ = machine.handle(.connectionsReleased([vip]))
        #expect(machine.releasing == [vip], "still guarded for the second grace")
        #expect(machine.releasable([vip]) == [vip])
        _ = machine.handle(.connectionsReleased([vip]))
        #expect(machine.releasing.isEmpty)
    }

    /// A commit writes the closed entries of every VIP; those of the VIPs held here go after each one, not only those
    /// of the VIP it was for (a Local VIP adopted earlier got them back and timed new connections out).
    @Test func aCommitForOneVIPDeletesTheClosedEntriesOfEveryVIPHeldHere() throws {
        let plan = try plan(withOther: true)
        var machine = AgentStateMachine(nodeName: "a", filtersVIPs: true, handoverMasqueradeBit: 14)
        _ = machine.handle(.planChanged(plan, config: "v1"))
        #expect(machine.unmasqueradedToClean(afterCommitFor: [vip]) == [vip], "nothing adopted yet")
        for instance in plan.instances {
            _ = machine.handle(
                .stateReported(NotifyMessage(instance: plan.instanceName(instance), state: .master, priority: 200)))
        }
        _ = machine.handle(.connectionsAdopted([vip]))
        #expect(machine.unmasqueradedToClean(afterCommitFor: [other]) == [vip, other])
    }

    /// Another node's Local flows (to a pod not on this node) go after a commit, whatever their state; a pod here
    /// sent to another node's pod keeps its flow, and so does an end without a route.
    @Test func onlyAClientsFlowToAnotherNodesPodGoes() throws {
        let listing = """
            tcp      6 431686 ESTABLISHED src=192.0.2.250 dst=192.0.2.194 sport=55078 dport=8080 \
            src=198.51.100.66 dst=192.0.2.250 sport=8080 dport=55078 [ASSURED] mark=0 use=1
            tcp      6 70 FIN_WAIT src=192.0.2.250 dst=192.0.2.194 sport=44752 dport=8080 \
            src=198.51.100.3 dst=192.0.2.250 sport=8080 dport=44752 [ASSURED] mark=32768 use=1
            tcp      6 60 SYN_SENT src=198.51.100.4 dst=192.0.2.194 sport=40000 dport=8080 [UNREPLIED] \
            src=198.51.100.66 dst=198.51.100.4 sport=8080 dport=40000 mark=0 use=1
            tcp      6 60 TIME_WAIT src=192.0.2.251 dst=192.0.2.194 sport=40001 dport=8080 \
            src=198.51.100.130 dst=192.0.2.251 sport=8080 dport=40001 mark=0 use=1
            conntrack v1.4.7 (conntrack-tools): 4 flow entries have been shown.
            """
        let flows = ConnectionSync.flowEnds(in: listing)
        #expect(flows.count == 4)
        let local: [String: Bool] = [
            "192.0.2.250": false, "192.0.2.251": false, "198.51.100.66": false, "198.51.100.3": true,
            "198.51.100.4": true,
        ]
        let filters = ConnectionSync.othersLocalFlows(flows) { local[$0.description] }
        #expect(
            filters == [
                .init(client: try IPAddress("192.0.2.250"), pod: try IPAddress("198.51.100.66"))
            ], "198.51.100.66 also serves a pod here: only the client's flow; 198.51.100.130 has no route: kept")
        let onlyClients = ConnectionSync.othersLocalFlows(flows.filter { $0.client.description != "198.51.100.4" }) {
            local[$0.description]
        }
        #expect(onlyClients == [.init(client: nil, pod: try IPAddress("198.51.100.66"))], "one deletion per pod")
    }

    /// conntrack's `--mark value/mask` in hex: unmasqueraded (bit clear), masqueraded, masqueraded and not our own.
    @Test func markFiltersNameTheValueUnderItsMask() {
        #expect(ConnectionSync.markFilter(0, mask: 0x4000) == "0x0/0x4000")
        #expect(ConnectionSync.markFilter(0x4000, mask: 0x4000) == "0x4000/0x4000")
        #expect(ConnectionSync.markFilter(0x4000, mask: 0x4000 | 0x8000) == "0x4000/0xc000")
    }

    /// A commit brings the entries of every VIP: those of VIPs another node holds go (one with its pod here got another
    /// port against this node's transit entry, and reset the flow when the VIP came here in the cluster test). Not
    /// those of a VIP held, being taken over or given up here.
    @Test func onlyVIPsHeldElsewhereLoseTheirCommittedEntries() throws {
        let plan = try plan(withOther: true)
        let instance = try #require(plan.instances.first { $0.addresses == [vip] })
        #expect(plan.instances.contains { $0.addresses == [other] }, "one VIP per instance")
        func report(_ state: NotifyMessage.State) -> AgentStateMachine.Event {
            .stateReported(NotifyMessage(instance: plan.instanceName(instance), state: state, priority: 200))
        }
        var machine = AgentStateMachine(nodeName: "a", filtersVIPs: true, handoverMasqueradeBit: 14)
        _ = machine.handle(.planChanged(plan, config: "v1"))
        #expect(machine.heldElsewhere == [vip, other])
        #expect(machine.handle(report(.master)).contains(.adoptConnections([vip])))
        #expect(machine.heldElsewhere == [other], "being taken over")
        _ = machine.handle(.connectionsAdopted([vip]))
        #expect(machine.heldElsewhere == [other], "held")
        #expect(machine.handle(report(.backup)).contains(.releaseConnections([vip])))
        #expect(machine.heldElsewhere == [other], "its own entries go after the grace, not before")
        _ = machine.handle(.connectionsReleased([vip]))
        #expect(machine.heldElsewhere == [vip, other])
    }

    @Test func aCrashedKeepalivedReleasesWhatItHeldAndACommitAfterItDoesNotAdopt() throws {
        var machine = AgentStateMachine(nodeName: "a", filtersVIPs: true, handoverMasqueradeBit: 14)
        _ = machine.handle(.planChanged(try plan(), config: "v1"))
        _ = machine.handle(report(.master))
        let crash = machine.handle(.keepalivedExited(status: 9))
        #expect(crash.contains(.releaseConnections([vip])))
        // The commit that was under way ends after the crash: the VIP is not this node's any more.
        _ = machine.handle(.connectionsAdopted([vip]))
        #expect(machine.adopted.isEmpty)
    }

    @Test func aStoppingAgentKeepsTheGuardUntilItsEntriesAreGone() throws {
        var machine = AgentStateMachine(nodeName: "a", filtersVIPs: true, handoverMasqueradeBit: 14)
        _ = machine.handle(.planChanged(try plan(), config: "v1"))
        _ = machine.handle(report(.master))
        _ = machine.handle(.connectionsAdopted([vip]))
        let stop = machine.handle(.stopRequested)
        let guardAt = try #require(
            stop.firstIndex {
                if case .applyFirewall(let script) = $0 {
                    script.contains("elements = { \(vip) }\n    }\n    set releasing6")
                } else {
                    false
                }
            })
        let releaseAt = try #require(stop.firstIndex(of: .releaseConnections([vip])))
        let removeAt = try #require(stop.firstIndex(of: .removeFirewall))
        let keepalivedAt = try #require(stop.firstIndex(of: .stopKeepalived))
        // Guarded before the VIP leaves: the new holder forwards to pods here from the moment it is master.
        #expect(guardAt < keepalivedAt && keepalivedAt < releaseAt && releaseAt < removeAt, "\(stop)")
        #expect(machine.handle(.connectionsReleased([vip])).isEmpty, "stopping: no filter comes back")
    }

    @Test func aNodeThePlanDropsReleasesOnlyOnceItsKeepalivedStops() throws {
        var machine = AgentStateMachine(nodeName: "a", filtersVIPs: true, handoverMasqueradeBit: 14)
        _ = machine.handle(.planChanged(try plan(), config: "v1"))
        _ = machine.handle(report(.master))
        _ = machine.handle(.connectionsAdopted([vip]))
        let dropped = try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "50-50"), groups: 1)
            .plan(
                addresses: [vip], nodes: ["b"], placement: Placement(), ports: [vip: [try VIPPort(parsing: "TCP/80")]]
            )
            .plan
        let handingOver = machine.handle(.planChanged(dropped, config: "v2"))
        #expect(!handingOver.contains(.releaseConnections([vip])), "still serving until its peers have the plan")
        let stopped = machine.handle(.handoverTimerFired)
        let guardAt = try #require(stopped.firstIndex { if case .applyFirewall = $0 { true } else { false } })
        let keepalivedAt = try #require(stopped.firstIndex(of: .stopKeepalived))
        let releaseAt = try #require(stopped.firstIndex(of: .releaseConnections([vip])))
        #expect(guardAt < keepalivedAt && releaseAt < keepalivedAt, "\(stopped)")
    }

    @Test func offItRendersAndDoesNothing() throws {
        var off = AgentStateMachine(nodeName: "a", filtersVIPs: true)
        let started = off.handle(.planChanged(try plan(), config: "v1"))
        #expect(firewalls(started).first?.contains("handover") == false)
        #expect(!off.handle(report(.master)).contains { if case .adoptConnections = $0 { true } else { false } })
        // Without the VIP firewall (its table carries the rules) there is no handover either.
        var unfiltered = AgentStateMachine(nodeName: "a", handoverMasqueradeBit: 14)
        _ = unfiltered.handle(.planChanged(try plan(), config: "v1"))
        #expect(
            unfiltered.handle(report(.master)) == [
                .recordTransition(NotifyMessage(instance: "fcp_v4_50", state: .master, priority: 200)), .publish,
            ])
    }

    @Test func theMarkFollowsKubeProxysBit() {
        #expect(VIPFirewall.Handover(masqueradeBit: 14).masqueradeMark == 0x4000)
        #expect(VIPFirewall.Handover(masqueradeBit: 0).masqueradeMark == 1)
    }

    @Test func conntrackdLeavesTheVIPsOutOfItsSync() throws {
        let text = try ConnectionSync.configuration(
            interface: "eth0", address: IPAddress("192.0.2.11"), vips: [vip, IPAddress("2001:db8::65")],
            paths: .init(conntrackd: "/usr/sbin/conntrackd", conntrack: "/usr/sbin/conntrack", directory: "/run/x"))
        #expect(text.contains("\t\t\tIPv4_address 203.0.113.65\n"))
        #expect(text.contains("\t\t\tIPv6_address 2001:db8::65\n"))
        #expect(text.contains("IPv4_interface 192.0.2.11"))
        #expect(text.contains("Interface eth0"))
        #expect(text.contains("UNIX { Path /run/x/conntrackd.ctl }"))
        #expect(text.contains("\t\tRcvSocketBuffer 4194304\n"), "a takeover's bulk update fits")
        #expect(text.contains("\tNetlinkBufferSize 4194304\n\tNetlinkBufferSizeMaxGrowth 16777216\n"))
    }

    /// A restart empties conntrackd's caches: a VIP going away must not cause one, a new VIP must.
    @Test func onlyANewVIPChangesConntrackdsConfiguration() async throws {
        let sync = ConnectionSync(
            paths: .init(conntrackd: "/usr/sbin/conntrackd", conntrack: "/usr/sbin/conntrack", directory: "/run/x"),
            networkNamespace: nil, clock: ContinuousClock())
        let other = try IPAddress("203.0.113.66")
        let address = try IPAddress("192.0.2.11")
        let both = await sync.configuration(interface: "eth0", address: address, vips: [vip, other])
        let fewer = await sync.configuration(interface: "eth0", address: address, vips: [vip])
        #expect(fewer == both)
        #expect(fewer.contains("IPv4_address 203.0.113.66\n"))
        let added = await sync.configuration(interface: "eth0", address: address, vips: [try IPAddress("203.0.113.67")])
        #expect(added != both)
        #expect(added.contains("IPv4_address 203.0.113.66\n") && added.contains("IPv4_address 203.0.113.67\n"))
    }
}
