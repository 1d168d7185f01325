/// A token bucket like client-go's flowcontrol limiter: `burst` requests at once, then `qps` per second.
actor RateLimiter {
    private let qps: Double
    private let burst: Double
    private var tokens: Double
    /// When tokens were last counted, as `elapsed()` read then.
    private var last: Duration
    private let elapsed: @Sendable () -> Duration
    private let sleep: @Sendable (Duration) async throws -> Void

    /// `clock`: what the rate is measured and the debt slept off on (tests move a manual one).
    init(qps: Double, burst: Int, clock: some Clock<Duration>) {
        self.qps = qps
        self.burst = Double(max(burst, 1))
        tokens = Double(max(burst, 1))
        elapsed = stopwatch(on: clock)
        sleep = { try await clock.sleep(for: $0) }
        last = .zero
    }

    /// Waits until a request may go out. A qps of 0 or less disables limiting.
    func acquire() async throws {
        guard qps > 0 else { return }
        let now = elapsed()
        let passed = now - last
        last = now
        tokens = min(
            burst, tokens + (Double(passed.components.seconds) + Double(passed.components.attoseconds) / 1e18) * qps)
        tokens -= 1
        if tokens < 0 {
            // Reserve the token now and sleep off the debt; later callers queue behind it.
            try await sleep(.seconds(-tokens / qps))
        }
    }
}
