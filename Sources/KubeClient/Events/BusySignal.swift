import Synchronization

/// Lets best-effort writes (events) give way while writes that matter more (addresses in a burst) are
/// outstanding, without either side polling or calling the other: one says how much it has outstanding, the
/// other awaits zero, for at most a bound.
public final class BusySignal: Sendable {
    private struct State {
        var outstanding = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var isBusy: Bool { state.withLock { $0.outstanding > 0 } }

    /// How much the owner has outstanding now (its state machine knows the count outright).
    public func update(outstanding: Int) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.outstanding = max(outstanding, 0)
            guard state.outstanding == 0 else { return [] }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in woken { waiter.resume() }
    }

    /// Returns once nothing is outstanding, or when `limit` has passed on `clock`, or when cancelled.
    public func waitUntilIdle(atMost limit: Duration, clock: any Clock<Duration> = ContinuousClock()) async {
        guard isBusy else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForIdle() }
            group.addTask { try? await clock.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForIdle() async {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let idle = state.withLock { state in
                    if state.outstanding == 0 || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if idle { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
