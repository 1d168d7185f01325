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
}
