import Foundation
import TestLab

/// What `scripts/lib/chaos-probe.py` wrote: each outage (first failed attempt to the next success) and each
/// VIP's counts.
struct ProbeRecords {
    var gaps: [(vip: String, start: Double, end: Double)] = []
    var answered = 0
    var failed = 0
    /// False when the probe wrote nothing readable.
    let readable: Bool

    init(path: String) {
        let text = try? String(contentsOfFile: path, encoding: .utf8)
        readable = text != nil
        for line in (text ?? "").split(separator: "\n") {
            guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let vip = record["vip"] as? String
            else { continue }
            if let ok = record["ok"] as? Int, let fail = record["fail"] as? Int {
                answered += ok
                failed += fail
            } else if let start = record["start"] as? Double, let end = record["end"] as? Double {
                gaps.append((vip, start, end))
            }
        }
    }
}

/// One violation line in the `scripts/chaos` contract.
func printViolation(_ text: String) {
    print(#"{"suite":"chaos","name":"violation","detail":"\#(text.replacingOccurrences(of: "\"", with: "'"))"}"#)
    fflush(nil)
}

extension AgentLab {
    /// The controller (no leader election) for this lab's namespace and nodes, its log in the lab's state folder.
    func spawnController(binary: String, cluster: String, vrids: String, groups: Int, log: String) throws
        -> ChildProcess
    {
        try ChildProcess.spawn(
            [
                binary, "--kubeconfig", self.cluster.adminKubeconfig, "--cidr", "203.0.113.64/26",
                "--namespace", namespace, "--watch-namespace", namespace, "--cluster-name", cluster,
                "--node-selector", "keepalived-lb.io/test=\(namespace)", "--vrid-range", vrids,
                "--vrrp-groups", String(groups), "--leader-elect", "false",
                "--metrics-bind-address", "0", "--health-bind-address", "0",
            ], outputPath: stateRoot + "/" + log)
    }
}
