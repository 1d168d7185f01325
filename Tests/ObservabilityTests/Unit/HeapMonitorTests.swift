import InMemoryAPI
import Logging
import Observability
import ServiceLifecycle
import Testing

@Suite("Heap monitor")
struct HeapMonitorTests {
    /// A graceful shutdown must not wait out the monitor's sleep: with an hour between rounds the
    /// group would otherwise outlive the test's time limit.
    @Test(.timeLimit(.minutes(1)))
    func endsAtOnceOnGracefulShutdown() async throws {
        let group = ServiceGroup(
            services: [HeapMonitor(interval: .seconds(3600))], gracefulShutdownSignals: [], cancellationSignals: [],
            logger: Logger(label: "heap-monitor-test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await Task.sleep(for: .milliseconds(100))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// Rounds are timed on the injected clock: advancing it by one interval runs one round, which then sleeps again.
    @Test(.timeLimit(.minutes(1)))
    func roundsFollowTheInjectedClock() async throws {
        let clock = ManualClock()
        let group = ServiceGroup(
            services: [HeapMonitor(interval: .seconds(2), clock: clock)], gracefulShutdownSignals: [],
            cancellationSignals: [], logger: Logger(label: "heap-monitor-test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while clock.sleepers == 0 { try await Task.sleep(for: .milliseconds(5)) }
            let firstDeadline = clock.now.advanced(by: .seconds(2))
            clock.advance(by: .seconds(2))
            // The next round's sleep is set on the same clock, one interval after the first round.
            while clock.sleepers == 0 { try await Task.sleep(for: .milliseconds(5)) }
            #expect(clock.now == firstDeadline)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
