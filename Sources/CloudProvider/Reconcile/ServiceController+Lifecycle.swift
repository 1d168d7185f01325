import CoreMetrics
import KubeClient
public import ServiceLifecycle

/// The controller is one of its executable's lifecycle services.
extension ServiceController: ServiceLifecycle.Service {
    /// Under leader election, waits for the lease and reconciles while leading; a graceful shutdown ends
    /// reconciling and hands the lease over (a standby takes over at once); cancellation stops everything.
    public func run() async throws {
        defer { metrics.leader.record(0) }
        do {
            guard let elector else {
                metrics.leader.record(1)
                try await cancelWhenGracefulShutdown { try await self.reconcileWhileRunning() }
                return
            }
            metrics.leader.record(0)
            try await cancelWhenGracefulShutdown { try await elector.acquire() }
            metrics.leader.record(1)
            try await elector.lead { try await cancelWhenGracefulShutdown { try await self.reconcileWhileRunning() } }
        } catch  where Task.isShuttingDownGracefully || Task.isCancelled {
            // Asked to stop: a clean exit.
        }
    }
}
