import CloudProvider
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

    @Test func failedKeysComeBackWithBackoff() async throws {
        let queue = WorkQueue<String>(baseDelay: .milliseconds(10))
        await queue.add("k")
        let key = await queue.next()
        await queue.retry(key!)
        #expect(await queue.failureCount("k") == 1)
        let again = await queue.next()
        #expect(again == "k")
        await queue.done("k")
        #expect(await queue.failureCount("k") == 0)
    }
}
