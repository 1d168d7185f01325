import CHeap
public import Logging
import Metrics
public import ServiceLifecycle

/// Keeps the resident set close to what the process uses: jemalloc purges freed pages in the
/// background about a second after a burst (a relist, thousands of watch events, large
/// ConfigMap writes); this service reports the heap and purges at once when a lot is held.
public struct HeapMonitor: Service {
    let interval: Duration
    let clock: any Clock<Duration>
    /// Resident-but-unused bytes worth an immediate purge.
    let threshold: Int
    private let purges = Counter(label: "keepalived_lb_heap_purges_total")
    private let allocated = Gauge(label: "keepalived_lb_heap_allocated_bytes")
    private let resident = Gauge(label: "keepalived_lb_heap_resident_bytes")
    /// Where resident-over-allocated goes: free space in partly used slabs (active) or bookkeeping (metadata).
    private let active = Gauge(label: "keepalived_lb_heap_active_bytes")
    private let metadata = Gauge(label: "keepalived_lb_heap_metadata_bytes")

    public init(
        interval: Duration = .seconds(2), threshold: Int = 8 << 20, clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.interval = interval
        self.clock = clock
        self.threshold = threshold
    }

    /// Call once, early in `main`: background purging with a one-second decay. A failure means
    /// jemalloc is not the allocator (or refused the settings): the process runs, holding more.
    public static func configure(logger: Logger) {
        if klb_heap_configure() != 0 {
            logger.warning("could not configure jemalloc (background purge, 1 s decay); freed memory may stay resident")
        }
        logger.debug("heap: jemalloc", metadata: ["arenas": "\(klb_heap_arenas())"])
    }

    /// Ends at once on a graceful shutdown: a shutdown must never wait out one of its sleeps.
    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await clock.sleep(for: interval)
                let used = klb_heap_allocated_bytes()
                let held = klb_heap_resident_bytes()
                if held > used + threshold {
                    klb_heap_purge()
                    purges.increment()
                }
                allocated.record(used)
                resident.record(klb_heap_resident_bytes())
                active.record(klb_heap_active_bytes())
                metadata.record(klb_heap_metadata_bytes())
            }
        }
    }
}
