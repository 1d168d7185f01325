import KubeClient
public import ServiceLifecycle

/// The controller is one of its executable's lifecycle services.
extension ServiceController: ServiceLifecycle.Service {
    /// Under leader election, waits for the lease and reconciles while leading; a graceful shutdown ends
    /// reconciling and hands the lease over (a standby takes over at once); cancellation stops everything.
    public func run() async throws {
        do {
            guard let elector else {
                try await cancelWhenGracefulShutdown { try await self.reconcileWhileRunning() }
                return
            }
            try await cancelWhenGracefulShutdown { try await elector.acquire() }
            try await elector.lead { try await cancelWhenGracefulShutdown { try await self.reconcileWhileRunning() } }
        } catch  where Task.isShuttingDownGracefully || Task.isCancelled {
            // Asked to stop: a clean exit.
        }
    }
}
