import Foundation
public import IPAM

/// The controller's pools as it was started with them, in the ConfigMap annotation
/// `keepalived-lb.io/pools`: what `kubectl keepalived status` sizes the pools by, since flags
/// are not visible in the cluster otherwise.
public struct PoolAnnotation: Hashable, Sendable, Codable {
    public static let annotation = "keepalived-lb.io/pools"
    /// Far above any real pool list; a larger annotation is not read.
    public static let maximumSize = 64 * 1024

    public struct Entry: Hashable, Sendable, Codable {
        public var name: String
        public var addresses: [String]
        public var exclude: [String]
        public var avoidBuggyIPs: Bool
    }

    public var pools: [Entry]

    public init(_ pools: [Pool]) {
        self.pools = pools.map {
            Entry(
                name: $0.name, addresses: $0.entries.map(\.description), exclude: $0.exclusions.map(\.description),
                avoidBuggyIPs: $0.options.avoidBuggyIPs)
        }
    }

    /// Nil when absent, oversized or not this JSON (an older controller, or an edit by hand).
    public init?(annotation text: String?) {
        guard let text, text.utf8.count <= Self.maximumSize,
            let decoded = try? JSONDecoder().decode(Self.self, from: Data(text.utf8))
        else { return nil }
        self = decoded
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{\"pools\":[]}"
    }

    /// The pools again, as IPAM sizes them; entries that no longer parse are skipped.
    public func parsedPools() -> [Pool] {
        pools.compactMap { entry in
            try? Pool.parse(
                name: entry.name, entry.addresses, excluding: entry.exclude,
                options: .init(avoidBuggyIPs: entry.avoidBuggyIPs)
            ).pool
        }
    }
}
