public import ServiceLifecycle

/// The agent is one of its executable's lifecycle services (`run()`): a graceful shutdown (SIGTERM) hands its
/// VIPs over.
extension NodeAgent: ServiceLifecycle.Service {}
