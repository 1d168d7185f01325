import IPAM
import Keepalived
import KubeClient

/// What a repair of the VIP ConfigMap undid, for the event, the log line and the metric. Only
/// keys the controller owns are compared (VIP addresses, the plan, the ledger annotation).
struct ConfigMapRepair: Sendable {
    var deleted = false
    /// VIP entries someone removed or changed, and the controller put back.
    var restored: [String] = []
    /// VIP entries someone added that no Service holds, removed again.
    var removed: [String] = []
    var planRestored = false
    var ledgerRestored = false
    /// The ConfigMap as written, for the event.
    let reference: ObjectReference

    /// `previousPlan`: the hash of the plan our write before this one left (an edit of the plan is told apart
    /// from a change of our own).
    init(found: ConfigMap?, previousPlan: Int?, written: ConfigMap) {
        reference = written.reference
        guard let found else {
            deleted = true
            return
        }
        let theirs = found.data.filter { Self.isVIP($0.key) }
        let ours = written.data.filter { Self.isVIP($0.key) }
        restored = ours.filter { theirs[$0.key] != $0.value }.keys.sorted()
        removed = theirs.keys.filter { ours[$0] == nil }.sorted()
        planRestored =
            found.data[VRRPPlan.dataKey] != written.data[VRRPPlan.dataKey]
            && previousPlan == written.data[VRRPPlan.dataKey]?.hashValue
        ledgerRestored =
            found.metadata.annotations[LegacyLedger.annotation]
            != written.metadata.annotations[LegacyLedger.annotation]
    }

    var isEmpty: Bool { !deleted && restored.isEmpty && removed.isEmpty && !planRestored && !ledgerRestored }

    /// One sentence; address lists are cut after a few (keys are validated addresses).
    var message: String {
        if deleted { return "the VIP ConfigMap was deleted outside the controller; recreated it from the ledger" }
        var parts: [String] = []
        if !restored.isEmpty { parts.append("restored \(Self.list(restored)) (removed or changed)") }
        if !removed.isEmpty { parts.append("removed \(Self.list(removed)) (held by no Service)") }
        if planRestored { parts.append("restored the VRRP plan") }
        if ledgerRestored { parts.append("restored the ledger annotation") }
        return "undid an edit made outside the controller: " + parts.joined(separator: "; ")
            + ". Edit Services (annotations, spec), not this ConfigMap"
    }

    private static func isVIP(_ key: String) -> Bool { (try? IPAddress(key)) != nil }

    private static func list(_ keys: [String]) -> String {
        let shown = keys.prefix(5).joined(separator: ", ")
        return keys.count > 5 ? "\(shown) and \(keys.count - 5) more" : shown
    }
}
