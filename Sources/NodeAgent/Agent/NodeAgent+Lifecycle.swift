public import ServiceLifecycle

/// The agent is one of its executable's lifecycle services: a graceful shutdown (SIGTERM) hands its VIPs over.
extension NodeAgent: ServiceLifecycle.Service {
    public func run() async throws {
        try await runUntilStopped()
    }
}
