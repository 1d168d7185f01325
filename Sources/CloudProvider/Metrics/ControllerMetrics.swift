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
    /// 1 while this replica leads (or runs without leader election), set when leadership changes.
    let leader = Gauge(label: "keepalived_lb_leader")
    let poolSize = GaugeFamily("keepalived_lb_pool_addresses_size", dimensions: ["pool", "family"])
    let poolUsed = GaugeFamily("keepalived_lb_pool_addresses_used", dimensions: ["pool", "family"])
    let poolFree = GaugeFamily("keepalived_lb_pool_addresses_free", dimensions: ["pool", "family"])
    let eligibleNodes = GaugeFamily("keepalived_lb_eligible_nodes", dimensions: ["pool"])

    func allocationFailure(reason: String) {
        Counter(label: "keepalived_lb_allocation_failures_total", dimensions: [("reason", reason)]).increment()
    }

    /// Every usable pool's usage per family; a pool that went (deleted, or no longer usable) loses its series.
    func record(usage: [(pool: String, family: IPFamily, usage: Usage)]) {
        var size: [[String]: Double] = [:]
        var used: [[String]: Double] = [:]
        var free: [[String]: Double] = [:]
        for entry in usage {
            let key = [entry.pool, entry.family.rawValue]
            size[key] = entry.usage.size.doubleValue
            used[key] = Double(entry.usage.used)
            free[key] = entry.usage.free.doubleValue
        }
        poolSize.replaceAll(size)
        poolUsed.replaceAll(used)
        poolFree.replaceAll(free)
    }
}
