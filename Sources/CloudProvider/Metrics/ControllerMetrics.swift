import CoreMetrics
import IPAM

/// The controller's metrics, through swift-metrics so the executable chooses the backend
/// (Prometheus). Names follow Prometheus conventions with the `keepalived_lb_` prefix.
struct ControllerMetrics: Sendable {
    let allocations = Counter(label: "keepalived_lb_allocations_total")
    let releases = Counter(label: "keepalived_lb_releases_total")
    let reconcileErrors = Counter(label: "keepalived_lb_reconcile_errors_total")
    let reconcileDuration = Timer(label: "keepalived_lb_reconcile_duration_seconds")
    let queueDepth = Gauge(label: "keepalived_lb_workqueue_depth")
    /// Edits or deletions of the VIP ConfigMap made outside the controller, and undone by it.
    let configMapRepairs = Counter(label: "keepalived_lb_configmap_repairs_total")
    /// VIPs that more than one node reports holding for longer than the split-brain window.
    let splitBrain = Gauge(label: "keepalived_lb_vip_split_brain")
    /// Nodes whose `uninitialized` taint this controller removed.
    let nodesInitialized = Counter(label: "keepalived_lb_nodes_initialized_total")

    func allocationFailure(reason: String) {
        Counter(label: "keepalived_lb_allocation_failures_total", dimensions: [("reason", reason)]).increment()
    }

    func record(usage: Usage, pool: String, family: IPFamily) {
        let dimensions = [("pool", pool), ("family", family.rawValue)]
        Gauge(label: "keepalived_lb_pool_addresses_size", dimensions: dimensions).record(usage.size.doubleValue)
        Gauge(label: "keepalived_lb_pool_addresses_used", dimensions: dimensions).record(usage.used)
        Gauge(label: "keepalived_lb_pool_addresses_free", dimensions: dimensions).record(usage.free.doubleValue)
    }
}
