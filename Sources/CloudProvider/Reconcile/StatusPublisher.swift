import KubeClient

/// One Service's new status, waiting for the ConfigMap to hold its addresses.
struct Publication<Payload: Sendable>: Sendable {
    let key: ObjectKey
    /// The ledger generation the ConfigMap must reach before the status may say "assigned".
    let generation: Int
    let payload: Payload
}

/// Announces allocations in batches: one ConfigMap write covers every Service allocated since the
/// previous one, then their statuses are patched concurrently while the next write is already on
/// its way. Workers hand a Service over and move on, so a burst costs a few ConfigMap writes and
/// workers never sit idle waiting for one.
///
/// The work queue keeps a handed-over key "processing" until `completed` reports it, so a Service
/// is never reconciled while its status is still on the way.
actor StatusPublisher<Payload: Sendable, C: Clock> where C.Duration == Duration {
    typealias Flush = @Sendable (_ generation: Int) async throws -> Void
    typealias Patch = @Sendable (Publication<Payload>) async throws -> Void
    typealias Completed = @Sendable (Publication<Payload>, (any Error)?) async -> Void

    private var pending: [Publication<Payload>] = []
    private let signal: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let width: Int

    /// `width`: status patches in flight at once; `busy` counts the publications waiting or being written
    /// (events give way to them); `clock` times the rests between ConfigMap writes.
    init(width: Int, busy: BusySignal = BusySignal(), clock: C) {
        self.width = max(width, 1)
        self.busy = busy
        self.clock = clock
        (signal, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    nonisolated let busy: BusySignal
    private let clock: C

    /// Publications waiting or being written.
    var isBusy: Bool { busy.isBusy }

    func submit(_ publication: Publication<Payload>) {
        busy.enter()
        pending.append(publication)
        wake.yield()
    }

    private func takeBatch() -> [Publication<Payload>] {
        defer { pending.removeAll(keepingCapacity: true) }
        return pending
    }

    /// Runs until cancelled. `flush` writes the ConfigMap up to a generation; `patch` writes one
    /// status; `completed` hears of every publication once, with the error that stopped it.
    func run(flush: @escaping Flush, patch: @escaping Patch, completed: @escaping Completed) async {
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            // The ConfigMap holds every VIP, so each write costs the server (and etcd, which keeps
            // every revision until compaction) the whole ledger. Back-to-back writes rest as long
            // as the last one took: at most half the time is spent writing, batches grow with the
            // ledger, and a Service arriving after a quiet spell never waits.
            var lastFlush: (ended: C.Instant, took: Duration)?
            for await _ in signal {
                while !Task.isCancelled {
                    if let lastFlush, clock.now < lastFlush.ended.advanced(by: lastFlush.took) {
                        try? await clock.sleep(until: lastFlush.ended.advanced(by: lastFlush.took), tolerance: nil)
                    }
                    let batch = takeBatch()
                    guard let target = batch.map(\.generation).max() else { break }
                    let started = clock.now
                    var failure: (any Error)?
                    do { try await flush(target) } catch { failure = error }
                    lastFlush = (clock.now, started.duration(to: clock.now))
                    if let failure {
                        for publication in batch { await completed(publication, failure) }
                        busy.leave(batch.count)
                        continue
                    }
                    for publication in batch {
                        if inFlight >= width {
                            await group.next()
                            inFlight -= 1
                        }
                        inFlight += 1
                        group.addTask {
                            do {
                                try await patch(publication)
                                await completed(publication, nil)
                            } catch {
                                await completed(publication, error)
                            }
                            await self.finished()
                        }
                    }
                }
                if Task.isCancelled { break }
            }
            group.cancelAll()
        }
    }

    private nonisolated func finished() { busy.leave() }

    nonisolated func shutDown() { wake.finish() }
}
