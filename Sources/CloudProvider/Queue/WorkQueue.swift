/// Keys waiting to be reconciled: a key queued twice is processed once (coalescing), a key is
/// never processed by two workers at once, and failures come back with per-key exponential backoff.
public actor WorkQueue {
    private var queue: [String] = []
    private var head = 0
    private var queued = Set<String>()
    private var processing = Set<String>()
    private var dirtyWhileProcessing = Set<String>()
    private var failures: [String: Int] = [:]
    private var waiters: [CheckedContinuation<String?, Never>] = []
    private var shuttingDown = false
    private let baseDelay: Duration
    private let maximumDelay: Duration

    public init(baseDelay: Duration = .milliseconds(50), maximumDelay: Duration = .seconds(60)) {
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
    }

    public var depth: Int { queue.count - head }

    public func add(_ key: String) {
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
    public func next() async -> String? {
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
    public func done(_ key: String) {
        failures[key] = nil
        finish(key)
    }

    /// The key failed: retry after `base * 2^failures`, capped.
    public func retry(_ key: String) {
        let count = (failures[key] ?? 0) + 1
        failures[key] = count
        finish(key)
        let delay = min(baseDelay * (1 << min(count - 1, 20)), maximumDelay)
        Task { [weak self] in
            try? await Task.sleep(for: delay)
            await self?.add(key)
        }
    }

    public func failureCount(_ key: String) -> Int { failures[key] ?? 0 }

    private func finish(_ key: String) {
        processing.remove(key)
        if dirtyWhileProcessing.remove(key) != nil { add(key) }
    }

    public func shutDown() {
        shuttingDown = true
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters.removeAll()
    }
}
