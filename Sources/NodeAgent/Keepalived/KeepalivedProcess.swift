/// keepalived as the agent drives it: `KeepalivedSupervisor` runs the real process; tests of the agent's decisions
/// stand a fake in (no namespace, no keepalived).
public protocol KeepalivedProcess: Sendable {
    var paths: KeepalivedSupervisor.Paths { get }
    var isRunning: Bool { get async }
    /// Stops a keepalived a previous agent left running (its VIPs would stay otherwise).
    func stopOrphan() async
    /// Starts it; nil when it already runs. The caller watches the returned run.
    func start() async throws(AgentError) -> KeepalivedSupervisor.Run?
    /// Its exit status when `run` ended without being asked to; nil when stopped on purpose or cancelled.
    func watch(_ run: KeepalivedSupervisor.Run) async -> Int32?
    /// It has reported a state, so it has read its configuration.
    func markConfirmed() async
    func reload() async -> KeepalivedSupervisor.ReloadOutcome
    /// SIGTERM (keepalived's priority-0 adverts), then SIGKILL after a grace period.
    func stop() async
    /// Where its log ends now; `reloadCompleted(after:)` looks for the reload's confirmation past it.
    func logOffset() -> UInt64
    func reloadCompleted(after offset: UInt64) -> Bool
}

extension KeepalivedSupervisor: KeepalivedProcess {
    public func stop() async { await stop(grace: .seconds(3)) }
}
