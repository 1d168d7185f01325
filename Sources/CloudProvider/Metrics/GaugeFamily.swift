public import CoreMetrics
import Synchronization

/// A gauge whose label values come and go (one series per pool): values that disappear lose their series instead
/// of reporting their last value forever, as a deleted pool's "used 12" would.
public final class GaugeFamily: Sendable {
    private let label: String
    private let dimensionNames: [String]
    private let factory: any MetricsFactory
    private let recorded = Mutex<Set<[String]>>([])

    public init(_ label: String, dimensions: [String], factory: any MetricsFactory = MetricsSystem.factory) {
        self.label = label
        self.dimensionNames = dimensions
        self.factory = factory
    }

    /// Records every series in `values` (keyed by label values, in `dimensions` order) and removes the series
    /// recorded before that `values` no longer names.
    public func replaceAll(_ values: [[String]: Double]) {
        let gone = recorded.withLock { recorded in
            let gone = recorded.subtracting(values.keys)
            recorded = Set(values.keys)
            return gone
        }
        for (labels, value) in values { gauge(labels).record(value) }
        for labels in gone { gauge(labels).destroy() }
    }

    private func gauge(_ labels: [String]) -> Gauge {
        Gauge(label: label, dimensions: Array(zip(dimensionNames, labels)), factory: factory)
    }
}
