/// A token bucket like client-go's flowcontrol limiter: `burst` requests at once, then `qps` per second.
actor RateLimiter {
    private let qps: Double
    private let burst: Double
    private var tokens: Double
    private var last: ContinuousClock.Instant

    init(qps: Double, burst: Int) {
        self.qps = qps
        self.burst = Double(max(burst, 1))
        tokens = Double(max(burst, 1))
        last = .now
    }

    /// Waits until a request may go out. A qps of 0 or less disables limiting.
    func acquire() async throws {
        guard qps > 0 else { return }
        let now = ContinuousClock.now
        let elapsed = now - last
        last = now
        tokens = min(
            burst, tokens + (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) * qps)
        tokens -= 1
        if tokens < 0 {
            // Reserve the token now and sleep off the debt; later callers queue behind it.
            try await Task.sleep(for: .seconds(-tokens / qps))
        }
    }
}
