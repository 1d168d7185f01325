import CloudProvider
import MetricsTestKit
import Testing

/// A pool that goes takes its series with it: dashboards and alerts never see a deleted pool's last value.
@Suite("Gauge families (no I/O)")
struct GaugeFamilyTests {
    @Test func aValueThatDisappearsLosesItsSeries() throws {
        let metrics = TestMetrics()
        let family = GaugeFamily("keepalived_lb_pool_addresses_used", dimensions: ["pool", "family"], factory: metrics)
        family.replaceAll([["a", "IPv4"]: 3, ["b", "IPv4"]: 5])
        #expect(
            try metrics.expectGauge("keepalived_lb_pool_addresses_used", [("pool", "b"), ("family", "IPv4")])
                .lastValue == 5)
        family.replaceAll([["a", "IPv4"]: 4])
        #expect(
            try metrics.expectGauge("keepalived_lb_pool_addresses_used", [("pool", "a"), ("family", "IPv4")])
                .lastValue == 4)
        #expect(throws: (any Error).self, "pool b was deleted: no series") {
            try metrics.expectGauge("keepalived_lb_pool_addresses_used", [("pool", "b"), ("family", "IPv4")])
        }
        family.replaceAll([:])
        #expect(metrics.recorders.isEmpty)
    }
}
