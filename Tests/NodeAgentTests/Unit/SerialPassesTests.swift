import Testing

@testable import NodeAgent

/// The gate that keeps an actor's recompute passes from overlapping (`NodeAgent.changed()`, `BGPSpeaker.changed()`);
/// `NodeAgentSeamTests.aPlanChangeWhileKeepalivedStartsIsAppliedAfterTheStart` runs it in the agent.
@Suite("Serial passes (no I/O)")
struct SerialPassesTests {
    @Test func aCallDuringAPassRunsOneMorePassAfterItNotBesideIt() {
        var passes = SerialPasses()
        // Each answer read into a constant first: `#expect` cannot call a mutating method.
        let first = passes.begin()
        #expect(first, "nothing runs: this caller runs the pass")
        let beside = passes.begin()
        let besideAgain = passes.begin()
        #expect(!beside && !besideAgain, "a pass runs: the calls during it run none beside it")
        let owed = passes.next()
        #expect(owed, "one more pass for the calls during the first")
        let ended = !passes.next()
        #expect(ended, "nothing changed during the second: the run ends")
        let fresh = passes.begin()
        let freshEnded = !passes.next()
        #expect(fresh && freshEnded, "the next call runs a pass of its own")
    }
}
