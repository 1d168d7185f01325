import CHeap
import Metrics
import ServiceLifecycle

/// Gives memory freed after a burst (a relist, thousands of watch events, large ConfigMap
/// writes) back to the kernel. glibc keeps freed heap pages for reuse, so without this the
/// resident set stays at its peak long after the work is done.
public struct HeapTrimmer: Service {
    let interval: Duration
    /// Freed-but-held bytes worth a trim; below this the walk is not worth it.
    let threshold: Int
    private let released = Counter(label: "keepalived_lb_heap_trims_total")
    private let used = Gauge(label: "keepalived_lb_heap_used_bytes")
    private let held = Gauge(label: "keepalived_lb_heap_free_held_bytes")

    public init(interval: Duration = .seconds(2), threshold: Int = 2 << 20) {
        self.interval = interval
        self.threshold = threshold
    }

    /// Two arenas instead of glibc's eight per core: this process has a handful of threads and
    /// every extra arena holds freed memory of its own. Call once, before the threads start.
    public static func limitArenas() {
        _ = klb_heap_limit_arenas(2)
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try await Task.sleep(for: interval)
            let free = klb_heap_free_bytes()
            if free > threshold, klb_heap_trim() == 1 { released.increment() }
            used.record(klb_heap_used_bytes())
            held.record(klb_heap_free_bytes())
        }
    }
}
