import Foundation
import TestLab

/// What the client in the lab saw while a probe ran: one entry per connection attempt.
struct Timeline {
    struct Attempt {
        let time: Double
        /// The node that answered, nil for a failed attempt.
        let node: String?
    }

    let attempts: [Attempt]

    init(path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        attempts = text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let time = Double(parts[0]) else { return nil }
            return Attempt(time: time, node: parts[1] == "ok" && parts.count == 3 ? String(parts[2]) : nil)
        }
    }

    /// The first answer at or after `time` (from `node` when given).
    func firstAnswer(after time: Double, from node: String? = nil) -> Double? {
        attempts.first { $0.time >= time && $0.node != nil && (node == nil || $0.node == node) }?.time
    }

    /// Starts the probe in the lab's client namespace.
    static func probe(
        _ lab: AgentLab, vip: String, seconds: Double, output: String, until: String? = nil, goFile: String? = nil
    ) throws -> ChildProcess {
        try? FileManager.default.removeItem(atPath: output)
        if let goFile { try? FileManager.default.removeItem(atPath: goFile) }
        return try ChildProcess.spawn(
            [
                "ip", "netns", "exec", lab.client, "python3",
                TestEnvironment.repositoryRoot + "/scripts/lib/timeline-probe.py",
                vip, String(seconds), output,
            ] + (until.map { [$0] } ?? []) + (goFile.map { [$0] } ?? []),
            outputPath: "/dev/null")
    }
}

/// Median and 99th percentile (nearest rank) of a sample.
func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}
