import BGP
import Foundation
import IPAM
import Keepalived
import KubeClient
import LoadBalancerAPI
import Testing

@testable import NodeAgent

/// When BIRD runs, reloads and restarts, and how a BGPPeer object becomes session settings: no BIRD, no server.
@Suite("BGP speaker decisions (no I/O)")
struct BGPSpeakerTests {
    typealias Action = BGPSpeakerStateMachine.Action

    @Test func startsWithAPeerReloadsOnChangeAndStopsWhenNoPeerIsLeft() {
        var machine = BGPSpeakerStateMachine()
        #expect(machine.handle(.desired(nil)).isEmpty, "no peer: no daemon")
        #expect(machine.handle(.desired("a")) == [.write("a"), .start(run: 1)])
        #expect(machine.handle(.desired("a")).isEmpty, "unchanged: nothing")
        #expect(machine.handle(.desired("b")) == [.write("b"), .reload], "a change reloads; sessions stay up")
        #expect(machine.handle(.desired(nil)) == [.stop])
        #expect(machine.handle(.exited(run: 1, status: 0)).isEmpty, "the stop it asked for is no failure")
        #expect(machine.handle(.desired("c")) == [.write("c"), .start(run: 2)])
    }

    @Test func aDeadDaemonIsRestartedWithBackoffThatAnAnswerResets() {
        var machine = BGPSpeakerStateMachine()
        _ = machine.handle(.desired("a"))
        #expect(machine.handle(.exited(run: 1, status: 1)) == [.scheduleRestart(after: .milliseconds(500))])
        #expect(machine.handle(.desired("b")).isEmpty, "waits for its timer; no restart storm")
        #expect(machine.handle(.restartTimerFired) == [.write("b"), .start(run: 2)], "with what is desired now")
        #expect(machine.handle(.exited(run: 2, status: 1)) == [.scheduleRestart(after: .seconds(1))])
        _ = machine.handle(.restartTimerFired)
        #expect(machine.handle(.exited(run: 1, status: 1)).isEmpty, "an older run's exit is not this one's")
        _ = machine.handle(.answered)
        #expect(machine.handle(.exited(run: 3, status: 1)) == [.scheduleRestart(after: .milliseconds(500))])
    }

    @Test func stoppingClosesTheSessionsOnceAndIgnoresLaterChanges() {
        var machine = BGPSpeakerStateMachine()
        _ = machine.handle(.desired("a"))
        #expect(machine.handle(.stopRequested) == [.stop])
        #expect(machine.handle(.desired("b")).isEmpty)
        #expect(machine.handle(.exited(run: 1, status: 0)).isEmpty, "no restart while stopping")
        #expect(machine.handle(.restartTimerFired).isEmpty)
    }

    private func peer(_ build: (inout BGPPeer.Spec) -> Void) -> BGPPeer {
        var peer = BGPPeer(json: [:])
        peer.metadata = ObjectMeta(name: "tor-a")
        peer.spec.peerAddress = "192.0.2.1"
        peer.spec.peerASN = 64512
        peer.spec.localASN = 64513
        build(&peer.spec)
        return peer
    }

    @Test func aPeerObjectBecomesValidatedSettings() throws {
        let settings = try peer {
            $0.bfd = ["receiveIntervalMilliseconds": 100, "multiplier": 3]
            $0.holdTimeSeconds = 9
            $0.sourceAddress = "192.0.2.11"
        }.settings(password: try BGPPassword("s3cret", source: "test"))
        #expect(settings.peerAddress == (try IPAddress("192.0.2.1")))
        #expect(settings.bfd?.receiveIntervalMilliseconds == 100 && settings.bfd?.transmitIntervalMilliseconds == 300)
        #expect(settings.keepaliveTimeSeconds == 3 && settings.password != nil)
    }

    @Test(arguments: [
        ("peerAddress", "192.0.2.1; }", "is not an IP address"),
        ("peerASN", "0", "reserved"),
        ("localASN", "4294967296", "is not an AS number"),
        ("sourceAddress", "2001:db8::11", "is not of the peer address"),
        ("holdTimeSeconds", "2", "holdTimeSeconds 2"),
    ])
    func badFieldsAreRefusedNamingTheField(field: String, value: String, message: String) {
        let bad = peer {
            switch field {
            case "peerAddress": $0.peerAddress = value
            case "peerASN": $0.peerASN = Int(value)
            case "localASN": $0.localASN = Int(value)
            case "sourceAddress": $0.sourceAddress = value
            default: $0.holdTimeSeconds = Int(value)
            }
        }
        #expect {
            try bad.settings(password: nil)
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test(arguments: ["with \"quote\"", "two\nlines", String(repeating: "x", count: 81), ""])
    func aPasswordThatCouldBreakTheConfigurationIsRefused(text: String) {
        #expect(throws: BGPError.self) { try BGPPassword(text, source: "Secret kube-system/bgp key password") }
    }

    @Test func theRouterIDIsTheNodesIPv4AddressElseStableFromItsName() throws {
        var node = Node()
        node.metadata = ObjectMeta(name: "n1")
        #expect(BGPSpeaker.routerID(of: node, name: "n1") == BGPSpeaker.routerID(of: node, name: "n1"))
        #expect(BGPSpeaker.routerID(of: node, name: "n1") != BGPSpeaker.routerID(of: node, name: "n2"))
        #expect(BGPSpeaker.routerID(of: node, name: "n1").family == .ipv4)
        node.json["status"] = [
            "addresses": [
                ["type": "InternalIP", "address": "2001:db8::11"], ["type": "InternalIP", "address": "192.0.2.11"],
            ]
        ]
        #expect(BGPSpeaker.routerID(of: node, name: "n1") == (try IPAddress("192.0.2.11")))
    }

    @Test func aSecretIsReadAgainOnlyAfterItsLifetimeOrWhenAPeerChanges() {
        var cache = SecretCache<String>(lifetime: .seconds(60))
        let key = SecretCache<String>.Key(name: "tor", key: "password")
        let start = Duration.seconds(1000)
        #expect(cache.value(key, at: start) == nil, "nothing read yet")
        cache.store("one", for: key, at: start)
        #expect(cache.value(key, at: start + .seconds(59)) == "one", "plan changes reuse it")
        #expect(!cache.hasExpired(at: start + .seconds(59)))
        #expect(cache.value(key, at: start + .seconds(60)) == nil, "a minute on: read again (a rotated password)")
        #expect(cache.hasExpired(at: start + .seconds(60)))
        #expect(cache.value(.init(name: "tor", key: "other"), at: start) == nil, "another key is another entry")
        cache.removeAll()
        #expect(cache.value(key, at: start) == nil, "a BGPPeer changed: read again")
    }

    @Test func theReasonIsBIRDsDetailWithoutTheStateName() {
        #expect(BGPSpeaker.reason(in: "Idle          BGP Error: Bad peer AS") == "BGP Error: Bad peer AS")
        #expect(BGPSpeaker.reason(in: "Active        Socket: No route to host") == "Socket: No route to host")
        #expect(BGPSpeaker.reason(in: "Connect") == nil)
        #expect(BGPSpeaker.reason(in: "Active   ") == nil)
    }

    @Test func theSessionStateRoundTripsThroughItsAnnotation() {
        let state = BGPSessionState(
            peers: ["tor-a": .init(session: "Established", bfd: "Up", message: nil)], routes: 3)
        #expect(BGPSessionState(annotation: state.json()) == state)
        #expect(BGPSessionState(annotation: "{not json") == nil)
    }
}
