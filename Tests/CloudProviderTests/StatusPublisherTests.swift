import KubeClient
import Synchronization
import Testing

@testable import CloudProvider

/// What the publisher did, in order, as seen by its three callbacks.
private final class Journal: Sendable {
    private let state = Mutex<
        (flushes: [Int], patched: [String], completed: [String: String], inFlight: Int, peak: Int)
    >(([], [], [:], 0, 0))

    func flush(_ generation: Int) { state.withLock { $0.flushes.append(generation) } }
    func begin(_ key: String) {
        state.withLock {
            $0.inFlight += 1
            $0.peak = max($0.peak, $0.inFlight)
            $0.patched.append(key)
        }
    }
    func end() { state.withLock { $0.inFlight -= 1 } }
    func complete(_ key: String, _ error: (any Error)?) {
        state.withLock { $0.completed[key] = error.map { "\($0)" } ?? "ok" }
    }

    var flushes: [Int] { state.withLock { $0.flushes } }
    var patched: [String] { state.withLock { $0.patched } }
    var completed: [String: String] { state.withLock { $0.completed } }
    var peak: Int { state.withLock { $0.peak } }
}

private struct Refused: Error, CustomStringConvertible {
    var description: String { "refused" }
}

@Suite("Status publisher (no I/O)")
struct StatusPublisherTests {
    /// Waits, without a deadline that could flake, until `done` holds; a broken publisher fails
    /// the test by the suite's time limit rather than by a timed assertion.
    private func until(_ done: () -> Bool) async throws {
        while !done() { try await Task.sleep(for: .milliseconds(2)) }
    }

    @Test(.timeLimit(.minutes(1)))
    func oneConfigMapWriteCoversEverySubmittedServiceAndPatchesAreBounded() async throws {
        let publisher = StatusPublisher<Int, ContinuousClock>(width: 3, clock: ContinuousClock())
        let journal = Journal()
        // Submitted before the publisher runs: they all form the first batch.
        for index in 1...10 {
            await publisher.submit(Publication(key: ObjectKey("ns/s\(index)"), generation: index, payload: index))
        }
        #expect(await publisher.isBusy)
        let run = Task {
            await publisher.run(
                flush: { journal.flush($0) },
                patch: { publication in
                    journal.begin(publication.key.description)
                    try await Task.sleep(for: .milliseconds(5))
                    journal.end()
                },
                completed: { publication, error in journal.complete(publication.key.description, error) })
        }
        try await until { journal.completed.count == 10 }
        #expect(journal.flushes == [10])
        #expect(journal.peak <= 3)
        #expect(Set(journal.completed.values) == ["ok"])

        // A later submission gets its own write, at its own generation.
        await publisher.submit(Publication(key: ObjectKey("ns/late"), generation: 11, payload: 11))
        try await until { journal.completed["ns/late"] != nil }
        #expect(journal.flushes == [10, 11])
        // Idle again once every status is written: events stop waiting.
        while await publisher.isBusy { try await Task.sleep(for: .milliseconds(2)) }
        #expect(!publisher.busy.isBusy)
        publisher.shutDown()
        await run.value
    }

    @Test(.timeLimit(.minutes(1)))
    func aFailedWriteOrPatchIsReportedForThatServiceOnly() async throws {
        let publisher = StatusPublisher<Int, ContinuousClock>(width: 8, clock: ContinuousClock())
        let journal = Journal()
        let failFlush = Mutex(true)
        let run = Task {
            await publisher.run(
                flush: { generation in
                    journal.flush(generation)
                    if failFlush.withLock({
                        let fail = $0
                        $0 = false
                        return fail
                    }) {
                        throw Refused()
                    }
                },
                patch: { publication in
                    journal.begin(publication.key.description)
                    journal.end()
                    if publication.key == "ns/bad" { throw Refused() }
                },
                completed: { publication, error in journal.complete(publication.key.description, error) })
        }
        // The ConfigMap write fails: nobody's status is patched, everyone hears of it.
        await publisher.submit(Publication(key: ObjectKey("ns/a"), generation: 1, payload: 1))
        try await until { journal.completed["ns/a"] != nil }
        #expect(journal.completed["ns/a"] == "refused")
        #expect(journal.patched.isEmpty)

        await publisher.submit(Publication(key: ObjectKey("ns/good"), generation: 2, payload: 2))
        await publisher.submit(Publication(key: ObjectKey("ns/bad"), generation: 3, payload: 3))
        try await until { journal.completed.count == 3 }
        #expect(journal.completed["ns/good"] == "ok")
        #expect(journal.completed["ns/bad"] == "refused")
        publisher.shutDown()
        await run.value
    }
}
