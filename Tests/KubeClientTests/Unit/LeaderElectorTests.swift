import InMemoryAPI
import Testing

@testable import KubeClient

/// Decisions of the elector that need no apiserver; takeover through a real one is in CoordinationTests.
@Suite("Leader election without a server")
struct LeaderElectorTests {
    static func configuration(_ identity: String) -> LeaderElector.Configuration {
        .init(
            leaseName: "ctl", namespace: "ns", identity: identity, leaseDuration: .seconds(4),
            renewDeadline: .seconds(3), retryPeriod: .milliseconds(10))
    }

    /// A standby that gave up on one failed request exited its pod during every apiserver restart.
    @Test func acquireRetriesThroughAPIErrorsAndThenLeads() async throws {
        let api = InMemoryAPIServer()
        api.failNext(.get, Lease.self, with: KubeError(.transport, "connection reset by peer"), times: 3)
        api.failNext(.create, Lease.self, with: KubeError(.server, "etcdserver: leader changed", httpStatus: 500))
        let elector = LeaderElector(client: api, configuration: Self.configuration("a"))
        try await elector.acquire()
        #expect(await elector.isLeader)
        #expect(api.count(.get, Lease.self) >= 5)
        let lease = try await api.get(Lease.self, namespace: "ns", name: "ctl")
        #expect(lease.spec.holderIdentity == "a")
    }

    @Test func acquireStopsWhenCancelledWhileTheServerFails() async throws {
        let api = InMemoryAPIServer()
        api.failNext(.get, Lease.self, with: KubeError(.transport, "connection refused"), times: 1_000_000)
        let elector = LeaderElector(client: api, configuration: Self.configuration("a"))
        let attempt = Task { try await elector.acquire() }
        try await Task.sleep(for: .milliseconds(50))
        attempt.cancel()
        await #expect(throws: CancellationError.self) { try await attempt.value }
        #expect(await !elector.isLeader)
    }

    /// Leases are judged by this process's own clock, as client-go does: a holder that stopped renewing loses the
    /// lease after `leaseDuration` of seeing no change, and every renewal it makes restarts that wait.
    @Test func aLeaseIsTakenOnlyAfterLeaseDurationWithoutChangeOnTheLocalClock() async throws {
        let api = InMemoryAPIServer()
        let clock = ManualClock()
        var slow = Self.configuration("a")
        slow.retryPeriod = .milliseconds(500)
        let a = LeaderElector(client: api, configuration: slow, clock: clock)
        try await a.acquire()
        slow.identity = "b"
        let b = LeaderElector(client: api, configuration: slow, clock: clock)
        let taking = Task { try await b.acquire() }
        defer { taking.cancel() }

        for _ in 0..<6 { try await Self.advanceOnceAsleep(clock, by: .milliseconds(500)) }
        // 3 s without a change: a renews (while b sleeps), which restarts b's wait from b's next look.
        try await Self.advanceOnceAsleep(clock, by: .zero)
        #expect(try await a.tryAcquireOrRenew())
        for _ in 0..<7 { try await Self.advanceOnceAsleep(clock, by: .milliseconds(500)) }
        #expect(await !b.isLeader, "6.5 s in, but a renewed 3.5 s ago")
        for _ in 0..<2 { try await Self.advanceOnceAsleep(clock, by: .milliseconds(500)) }
        try await taking.value
        #expect(await b.isLeader)
        let lease = try await api.get(Lease.self, namespace: "ns", name: "ctl")
        #expect(lease.spec.holderIdentity == "b")
        #expect(lease.spec.leaseTransitions == 1)
    }

    /// Moves the clock once the elector has gone back to sleep (its attempt in between is not timed).
    private static func advanceOnceAsleep(_ clock: ManualClock, by step: Duration) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while clock.sleepers == 0 {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(1))
        }
        clock.advance(by: step)
    }
}
