import CloudProvider
import IPAM
import Keepalived
import Testing

@Suite("Split-brain detection (no I/O)")
struct SplitBrainDetectorTests {
    let vip = try! IPAddress("203.0.113.65")
    let other = try! IPAddress("203.0.113.66")
    let start = Duration.zero

    @Test func aHandoverOverlapIsNotReportedButALastingOneIsOnceAndItsEndToo() {
        var detector = SplitBrainDetector(window: .seconds(3))
        let both: [String: [IPAddress]] = ["a": [vip, other], "b": [vip]]
        #expect(detector.observe(holders: both, now: start) == [.checkAgain(after: .seconds(3))])
        #expect(detector.observe(holders: both, now: start + .seconds(1)) == [.checkAgain(after: .seconds(2))])
        #expect(
            detector.observe(holders: both, now: start + .seconds(3))
                == [.report(.init(address: vip, nodes: ["a", "b"]))])
        #expect(detector.observe(holders: both, now: start + .seconds(4)).isEmpty, "reported once")
        #expect(detector.observe(holders: ["a": [vip], "b": []], now: start + .seconds(5)) == [.resolved(vip)])
        #expect(detector.reported.isEmpty)
    }

    @Test func aHandoverThatEndsInsideTheWindowIsForgotten() {
        var detector = SplitBrainDetector(window: .seconds(3))
        _ = detector.observe(holders: ["a": [vip], "b": [vip]], now: start)
        #expect(detector.observe(holders: ["a": [], "b": [vip]], now: start + .milliseconds(500)).isEmpty)
        // A new overlap later starts its own clock.
        _ = detector.observe(holders: ["a": [vip], "b": [vip]], now: start + .seconds(10))
        #expect(
            detector.observe(holders: ["a": [vip], "b": [vip]], now: start + .seconds(11)) == [
                .checkAgain(after: .seconds(2))
            ])
    }

    @Test func aDifferentSetOfHoldersRestartsTheClockAndIsReportedAnew() {
        var detector = SplitBrainDetector(window: .seconds(1))
        _ = detector.observe(holders: ["a": [vip], "b": [vip]], now: start)
        #expect(detector.observe(holders: ["a": [vip], "b": [vip]], now: start + .seconds(1)).count == 1)
        _ = detector.observe(holders: ["a": [vip], "b": [vip], "c": [vip]], now: start + .seconds(2))
        #expect(
            detector.observe(holders: ["a": [vip], "b": [vip], "c": [vip]], now: start + .seconds(3))
                == [.report(.init(address: vip, nodes: ["a", "b", "c"]))])
    }

    @Test func publishedStateIsReadDefensively() throws {
        let state = NodeVRRPState(running: true, instances: ["x_v4_1": "MASTER"], vips: [vip])
        #expect(NodeVRRPState(annotation: state.json()) == state)
        #expect(NodeVRRPState(annotation: state.json())?.heldAddresses == [vip])
        #expect(NodeVRRPState(annotation: "not json") == nil)
        #expect(NodeVRRPState(annotation: nil) == nil)
        #expect(NodeVRRPState(annotation: String(repeating: " ", count: NodeVRRPState.maximumSize + 1)) == nil)
        let garbage = #"{"keepalived":"running","instances":{},"vips":["203.0.113.65","x\n}","999.1.1.1"]}"#
        #expect(NodeVRRPState(annotation: garbage)?.heldAddresses == [vip], "unparsable addresses are skipped")
        let stopped = NodeVRRPState(running: false, instances: [:], vips: [vip])
        #expect(stopped.heldAddresses.isEmpty, "a stopped keepalived holds nothing")
    }
}
