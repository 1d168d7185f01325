import CloudProvider
import InMemoryAPI
import Testing

@Suite("Work queue")
struct WorkQueueTests {
    @Test func coalescesAndNeverHandsOneKeyToTwoWorkers() async {
        let queue = WorkQueue<String>(baseDelay: .milliseconds(10))
        await queue.add("a")
        await queue.add("a")
        await queue.add("b")
        #expect(await queue.depth == 2)
        #expect(await queue.next() == "a")
        await queue.add("a")
        #expect(await queue.next() == "b")
        #expect(await queue.depth == 0)
        await queue.done("a")
        #expect(await queue.next() == "a")
    }

    @Test func failedKeysComeBackAfterTheirBackoffAndNotBefore() async throws {
        let clock = ManualClock()
        let queue = WorkQueue<String>(baseDelay: .milliseconds(10), clock: clock)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await queue.run() }
            await queue.add("k")
            var key = await queue.next()
            await queue.retry(key!)
            await queue.add("other")
            #expect(await queue.failureCount("k") == 1)
            #expect(await queue.next() == "other", "k waits out its backoff")
            await queue.done("other")
            while clock.sleepers == 0 { await Task.yield() }
            clock.advance(by: .milliseconds(9))
            #expect(await queue.depth == 0)
            clock.advance(by: .milliseconds(1))
            key = await queue.next()
            #expect(key == "k")
            // The second failure doubles the wait.
            await queue.retry("k")
            while clock.sleepers == 0 { await Task.yield() }
            clock.advance(by: .milliseconds(19))
            #expect(await queue.depth == 0)
            clock.advance(by: .milliseconds(1))
            #expect(await queue.next() == "k")
            await queue.done("k")
            #expect(await queue.failureCount("k") == 0)
            group.cancelAll()
        }
    }

    @Test func cancellingTheQueueEndsEveryWorker() async {
        let queue = WorkQueue<String>()
        await withTaskGroup(of: String?.self) { group in
            group.addTask {
                await queue.run()
                return "run ended"
            }
            group.addTask { await queue.next() }
            group.addTask { await queue.next() }
            await queue.retry("pending")  // a timer that must not keep anything alive
            try? await Task.sleep(for: .milliseconds(20))
            group.cancelAll()
            var results: [String?] = []
            for await result in group { results.append(result) }
            #expect(results.compactMap { $0 } == ["run ended"], "both workers got nil")
        }
    }
}
