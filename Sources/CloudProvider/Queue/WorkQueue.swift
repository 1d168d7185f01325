/// Keys waiting to be reconciled: a key queued twice is processed once (coalescing), a key is
/// never processed by two workers at once, and failures come back with per-key exponential backoff.
/// `run()` must run beside the workers: it holds the backoff timers, and ends the queue when cancelled.
public actor WorkQueue<Key: Hashable & Sendable> {
    private var queue: [Key] = []
    private var head = 0
    private var queued = Set<Key>()
    private var processing = Set<Key>()
    private var dirtyWhileProcessing = Set<Key>()
    private var failures: [Key: Int] = [:]
    private var waiters: [CheckedContinuation<Key?, Never>] = []
    private var shuttingDown = false
    private let baseDelay: Duration
    private let maximumDelay: Duration
    private let clock: any Clock<Duration>
    private let retries: AsyncStream<(key: Key, delay: Duration)>
    private let retryQueue: AsyncStream<(key: Key, delay: Duration)>.Continuation

    public init(
        baseDelay: Duration = .milliseconds(50), maximumDelay: Duration = .seconds(60),
        clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
        self.clock = clock
        (retries, retryQueue) = AsyncStream.makeStream()
    }

    /// Brings failed keys back when their backoff ends, each timer a child task; when cancelled, the
    /// timers stop and `next()` answers nil to every worker.
    public func run() async {
        let clock = self.clock
        await withDiscardingTaskGroup { group in
            for await retry in retries {
                group.addTask {
                    do { try await clock.sleep(for: retry.delay) } catch { return }
                    await self.add(retry.key)
                }
            }
            group.cancelAll()
        }
        shutDown()
    }

    public var depth: Int { queue.count - head }

    public func add(_ key: Key) {
        guard !shuttingDown else { return }
        if processing.contains(key) {
            dirtyWhileProcessing.insert(key)
            return
        }
        guard queued.insert(key).inserted else { return }
        if let waiter = waiters.first {
            waiters.removeFirst()
            queued.remove(key)
            processing.insert(key)
            waiter.resume(returning: key)
            return
        }
        queue.append(key)
    }

    /// The next key to work on, or nil once shut down.
    public func next() async -> Key? {
        if head < queue.count {
            let key = queue[head]
            head += 1
            if head > 1024 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            queued.remove(key)
            processing.insert(key)
            return key
        }
        if shuttingDown { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    /// The key was handled; forget its failures.
    public func done(_ key: Key) {
        failures[key] = nil
        finish(key)
    }

    /// The key failed: retry after `base * 2^failures`, capped.
    public func retry(_ key: Key) {
        let count = (failures[key] ?? 0) + 1
        failures[key] = count
        finish(key)
        retryQueue.yield((key, min(baseDelay * (1 << min(count - 1, 20)), maximumDelay)))
    }

    public func failureCount(_ key: Key) -> Int { failures[key] ?? 0 }

    private func finish(_ key: Key) {
        processing.remove(key)
        if dirtyWhileProcessing.remove(key) != nil { add(key) }
    }

    public func shutDown() {
        shuttingDown = true
        retryQueue.finish()
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters.removeAll()
    }
}
