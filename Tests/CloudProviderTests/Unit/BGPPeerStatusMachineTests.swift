import KubeClient
import LoadBalancerAPI
import Testing

@testable import CloudProvider

@Suite("BGPPeer status and Events from the nodes' sessions (no I/O)")
struct BGPPeerStatusMachineTests {
    typealias Session = BGPSessionState.Peer
    let up = Session(session: Session.established, bfd: "Up")

    func state(_ peers: [String: Session]) -> BGPSessionState { BGPSessionState(peers: peers, routes: 1) }

    @Test func aStartIsQuietForSessionsThatAreUpButWarnsOfThoseThatAreNot() {
        var machine = BGPPeerStatusMachine()
        let events = machine.nodesPublished([
            "n1": state(["tor": up]),
            "n2": state(["tor": Session(session: "Active", message: "Socket: Connection refused")]),
        ])
        #expect(events.map(\.reason) == [.failing])
        #expect(events.first?.warning == true)
        #expect(events.first?.message == "node n2: BGP session not established (Active): Socket: Connection refused")
    }

    @Test func aLostSessionWarnsOnceAndItsReturnIsNormal() {
        var machine = BGPPeerStatusMachine()
        _ = machine.nodesPublished(["n1": state(["tor": up])])
        let down = machine.nodesPublished(["n1": state(["tor": Session(session: "Active", bfd: "Down")])])
        #expect(
            down == [.init(peer: "tor", warning: true, reason: .down, message: "node n1: BGP session lost, now Active")]
        )
        #expect(
            machine.nodesPublished(["n1": state(["tor": Session(session: "Connect", bfd: "Down")])]).isEmpty,
            "still down, no new reason: nothing new to say")
        let back = machine.nodesPublished(["n1": state(["tor": up])])
        #expect(back.map(\.reason) == [.established])
        #expect(back.first?.warning == false)
        #expect(back.first?.message == "node n1: BGP session established, BFD Up")
    }

    @Test func aRefusedPeerWarnsAgainOnlyWhenTheReasonChanges() {
        var machine = BGPPeerStatusMachine()
        let missing = Session(session: Session.invalid, message: "cannot read Secret kube-system/bgp")
        #expect(machine.nodesPublished(["n1": state(["tor": missing])]).map(\.reason) == [.invalid])
        #expect(machine.nodesPublished(["n1": state(["tor": missing])]).isEmpty)
        let other = Session(session: Session.invalid, message: "spec.peerAddress \"x\" is not an IP address")
        #expect(machine.nodesPublished(["n1": state(["tor": other])]).map(\.reason) == [.invalid])
    }

    @Test func aPeerAddedAfterTheStartThatComesUpIsAnnounced() {
        var machine = BGPPeerStatusMachine()
        _ = machine.nodesPublished([:])
        #expect(machine.nodesPublished(["n1": state(["tor": up])]).map(\.reason) == [.established])
    }

    @Test func theStatusListsEveryReportingNodeAndOneConditionThatSaysWhichAreDown() throws {
        var machine = BGPPeerStatusMachine()
        _ = machine.nodesPublished([
            "n2": state(["tor": Session(session: "Active", bfd: "Down", message: "Received: Bad peer AS")]),
            "n1": state(["tor": up, "other": up]),
            "n3": state(["other": up]),
        ])
        let status = BGPPeer.Status(json: machine.status(of: "tor", previous: BGPPeer.Status(json: [:]), generation: 4))
        #expect(status.nodes.map(\.name) == ["n1", "n2"])
        #expect(status.nodes.map(\.session) == ["Established", "Active"])
        #expect(status.nodes.last?.bfd == "Down")
        #expect(status.nodes.last?.message == "Received: Bad peer AS")
        #expect(status.establishedNodes == 1)
        let condition = try #require(status.conditions.first)
        #expect(condition.type == "Established" && condition.status == .false && condition.reason == "NotEstablished")
        #expect(condition.message == "1 of 2 nodes established; n2: Active (Received: Bad peer AS)")

        let none = BGPPeer.Status(
            json: machine.status(of: "absent", previous: BGPPeer.Status(json: [:]), generation: 1))
        #expect(none.nodes.isEmpty && none.conditions.first?.reason == "NoNodes")
    }

    @Test func whatAnAgentWritesIsBoundedAndEscapedBeforeItReachesAStatusOrAnEvent() {
        var machine = BGPPeerStatusMachine()
        let hostile = Session(
            session: "Active", message: "line\nbreak \u{1b}[31m" + String(repeating: "x", count: 5000))
        let events = machine.nodesPublished(["n1": state(["tor": hostile])])
        let message = events.first?.message ?? ""
        #expect(!message.contains("\n") && !message.contains("\u{1b}"))
        #expect(message.utf8.count < 400)
        let status = BGPPeer.Status(json: machine.status(of: "tor", previous: BGPPeer.Status(json: [:]), generation: 1))
        let written = status.nodes.first?.message ?? ""
        #expect(!written.contains("\n") && written.utf8.count <= BGPPeerStatusMachine.messageLimit + 64)
    }

    @Test func theTransitionTimeStaysWhileTheConditionDoesNot() throws {
        var machine = BGPPeerStatusMachine()
        _ = machine.nodesPublished(["n1": state(["tor": up])])
        var previous = BGPPeer.Status(json: [:])
        previous.json["conditions"] = .array([
            .object(
                Condition(
                    type: "Established", status: .true, reason: "Established", message: "",
                    lastTransitionTime: "2026-01-01T00:00:00Z", observedGeneration: 1
                ).json)
        ])
        let status = BGPPeer.Status(json: machine.status(of: "tor", previous: previous, generation: 1))
        #expect(status.conditions.first?.lastTransitionTime == "2026-01-01T00:00:00Z")
    }
}
