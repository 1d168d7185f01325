import CoreMetrics
import Keepalived

/// The agent's metrics (swift-metrics; the executable exports them to Prometheus).
struct AgentMetrics: Sendable {
    let restarts = Counter(label: "keepalived_lb_agent_keepalived_restarts_total")
    let reloads = Counter(label: "keepalived_lb_agent_keepalived_reloads_total")
    let vipsHeld = Gauge(label: "keepalived_lb_agent_vips_held")
    let vipMismatches = Gauge(label: "keepalived_lb_agent_vip_mismatches")
    let staleVIPsRemoved = Counter(label: "keepalived_lb_agent_stale_vips_removed_total")
    let planErrors = Counter(label: "keepalived_lb_agent_plan_errors_total")
    /// Plan updates not applied (missing ConfigMap or key, invalid plan): the previous plan stays.
    let planUnavailable = Counter(label: "keepalived_lb_agent_plan_kept_total")
    /// Priority-0 adverts sent for instances a crashed keepalived was master of.
    let releasesAnnounced = Counter(label: "keepalived_lb_agent_release_adverts_total")
    let syncRestarts = Counter(label: "keepalived_lb_agent_conntrackd_restarts_total")
    let commits = Counter(label: "keepalived_lb_agent_connection_commits_total")
    let commitErrors = Counter(label: "keepalived_lb_agent_connection_commit_errors_total")
    /// Gratuitous ARPs / unsolicited NAs sent for VIPs the agent holds itself (only this node may hold them).
    let neighbourAnnouncements = Counter(label: "keepalived_lb_agent_neighbour_announcements_total")
    /// nft runs that failed to install or remove the VIP filter (`VIPFirewall`).
    let firewallErrors = Counter(label: "keepalived_lb_agent_vip_firewall_errors_total")

    /// 0 unknown or stopped, 1 backup, 2 master, 3 fault.
    func record(instance: String, state: NotifyMessage.State?) {
        let value: Int
        switch state {
        case .backup: value = 1
        case .master: value = 2
        case .fault: value = 3
        default: value = 0
        }
        Gauge(label: "keepalived_lb_agent_vrrp_state", dimensions: [("instance", instance)]).record(value)
    }

    /// The instance's series go (its state and transitions): a removed instance is not "still master".
    func forget(instance: String) {
        Gauge(label: "keepalived_lb_agent_vrrp_state", dimensions: [("instance", instance)]).destroy()
        Counter(label: "keepalived_lb_agent_vrrp_transitions_total", dimensions: [("instance", instance)]).destroy()
    }

    func transition(instance: String) {
        Counter(label: "keepalived_lb_agent_vrrp_transitions_total", dimensions: [("instance", instance)]).increment()
    }
}
