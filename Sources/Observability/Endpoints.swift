public import KubeClient
public import Logging
import Metrics
public import Prometheus
public import ServiceLifecycle
import UnixSignals

/// What both executables share around their main service: the metrics registry, the
/// `--metrics-bind-address`/`--health-bind-address` endpoints, and running until SIGTERM.
public struct Endpoints: Sendable {
    public let metrics: BindAddress?
    public let health: BindAddress?

    /// Parses both flags (0 disables one); the error names the flag.
    public init(metrics: String, health: String) throws(EndpointError) {
        self.metrics = try BindAddress(parsing: metrics, flag: "--metrics-bind-address")
        self.health = try BindAddress(parsing: health, flag: "--health-bind-address")
    }

    /// Call before anything creates a metric: handles made earlier would go nowhere.
    public static func bootstrapMetrics() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }

    /// `/metrics` on its address; `/healthz` and `/readyz` on both (health alone when apart).
    public func services(
        registry: PrometheusCollectorRegistry, health healthy: @escaping EndpointServer.Probe = { true },
        ready: @escaping EndpointServer.Probe, logger: Logger
    ) -> [any ServiceLifecycle.Service] {
        var services: [any ServiceLifecycle.Service] = []
        if let metrics {
            services.append(
                EndpointServer(address: metrics, registry: registry, health: healthy, ready: ready, logger: logger))
        }
        if let health, health != metrics {
            services.append(
                EndpointServer(address: health, registry: nil, health: healthy, ready: ready, logger: logger))
        }
        return services
    }

    /// Runs until SIGTERM/SIGINT (graceful) and shuts the client down either way; the heap
    /// monitor runs beside the services. A group shuts its services down last to first, one
    /// after the other: the monitor goes first in the list so it never stands before the
    /// services whose shutdown is timed (the agent handing its VIPs over, the Lease released).
    public static func run(_ services: [any ServiceLifecycle.Service], closing client: KubernetesClient, logger: Logger)
        async throws
    {
        let group = ServiceGroup(
            services: [HeapMonitor()] + services, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [],
            logger: logger)
        do {
            try await group.run()
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }
}
