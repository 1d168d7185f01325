import Testing

@testable import CloudProvider

/// When the ConfigMap is written, on values: one write at a time, rests, and repairs of someone else's edit.
@Suite("ConfigMap write pipeline")
struct ConfigMapWritePipelineTests {
    /// Restored, with the restore's own write (generation 0, version "1") landed.
    private func ready() -> ConfigMapWritePipeline {
        var pipeline = ConfigMapWritePipeline()
        pipeline.written(generation: 0, version: "1", took: .milliseconds(5))
        pipeline.restored()
        return pipeline
    }

    @Test func nothingIsWrittenBeforeTheRestoreNorWhatTheWatchShowsJudged() {
        var pipeline = ConfigMapWritePipeline()
        pipeline.want()
        #expect(pipeline.nextWrite(generation: 1, waiting: true) == nil)
        #expect(pipeline.seen("someone-else") == false)
        pipeline.restored()
        #expect(pipeline.nextWrite(generation: 1, waiting: false) == false, "the owed write, not a repair")
    }

    @Test func oneWriteAtATimeThenARestAsLongAsItTook() {
        var pipeline = ready()
        #expect(pipeline.nextWrite(generation: 1, waiting: true) == false)
        #expect(pipeline.nextWrite(generation: 2, waiting: true) == nil, "one in flight")
        pipeline.written(generation: 1, version: "2", took: .milliseconds(40))
        #expect(pipeline.restAfterWrite(generation: 2, waiting: true) == .milliseconds(40))
        #expect(pipeline.nextWrite(generation: 2, waiting: true) == nil, "resting")
        pipeline.restEnded()
        #expect(pipeline.nextWrite(generation: 2, waiting: true) == false)
        pipeline.written(generation: 2, version: "3", took: .milliseconds(40))
        #expect(pipeline.restAfterWrite(generation: 2, waiting: false) == nil, "nothing more owed: no rest")
        #expect(pipeline.nextWrite(generation: 2, waiting: false) == nil)
    }

    @Test func ourOwnVersionSeenDuringTheWriteIsNoEditButAForeignOneIsRepaired() {
        var pipeline = ready()
        #expect(pipeline.nextWrite(generation: 1, waiting: true) == false)
        // Our write's event before its response: judged once the response is back.
        #expect(pipeline.seen("2") == false)
        pipeline.written(generation: 1, version: "2", took: .zero)
        #expect(pipeline.due == .nothing)
        #expect(pipeline.seen("1") == true, "an older version of ours is no edit either")
        #expect(pipeline.nextWrite(generation: 1, waiting: false) == nil)
        #expect(pipeline.seen("77") == true)
        #expect(pipeline.nextWrite(generation: 1, waiting: false) == true, "someone else's edit: read first")
        // Deleted while the repair was in flight: judged when the write's answer comes, and repaired next.
        #expect(pipeline.seen(nil) == false)
        pipeline.written(generation: 1, version: "3", took: .zero)
        #expect(pipeline.due == .repair)
        #expect(pipeline.restAfterWrite(generation: 1, waiting: false) == .zero)
        pipeline.restEnded()
        #expect(pipeline.nextWrite(generation: 1, waiting: false) == true)
        pipeline.failed()
        #expect(pipeline.due == .repair, "the repair that failed is owed again")
        #expect(pipeline.backOffAfterFailure() == .milliseconds(500))
        #expect(pipeline.nextWrite(generation: 1, waiting: false) == nil, "backing off")
        pipeline.restEnded()
        #expect(pipeline.nextWrite(generation: 1, waiting: false) == true, "the repair again, reading first")
    }

    /// A write owed by a node or placement change has no Service whose retry would bring it back: until one
    /// landed, a failed one was never tried again and agents kept the old plan.
    @Test func aFailedWriteThatNothingWaitsForIsTriedAgainWithADoublingBackoff() {
        var pipeline = ready()
        pipeline.want()
        for (attempt, backoff) in [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000].enumerated() {
            #expect(pipeline.nextWrite(generation: 1, waiting: false) == false, "attempt \(attempt + 1)")
            pipeline.failed()
            #expect(pipeline.due == .write)
            #expect(pipeline.backOffAfterFailure() == .milliseconds(backoff))
            pipeline.restEnded()
        }
        #expect(pipeline.nextWrite(generation: 1, waiting: false) == false)
        pipeline.written(generation: 1, version: "2", took: .zero)
        #expect(pipeline.failures == 0 && pipeline.due == .nothing)
        #expect(pipeline.restAfterWrite(generation: 1, waiting: false) == nil)

        // Only statuses waited (their owner retries them): nothing is owed from here, no backoff.
        #expect(pipeline.nextWrite(generation: 2, waiting: true) == false)
        pipeline.failed()
        #expect(pipeline.backOffAfterFailure() == nil)
        #expect(pipeline.nextWrite(generation: 2, waiting: false) == nil)
    }
}
