/// The VRRP router IDs one cluster may use. VRIDs are shared by everything on an L2 segment, so
/// clusters that share one must be given disjoint ranges (`--vrid-range 50-59`).
public struct VRIDRange: Hashable, Sendable, CustomStringConvertible {
    public let lower: Int
    public let upper: Int

    public init(_ lower: Int, _ upper: Int) throws(KeepalivedError) {
        guard (1...255).contains(lower), (1...255).contains(upper), lower <= upper else {
            throw KeepalivedError(
                .invalidVRIDRange, "VRID range \(lower)-\(upper) must lie within 1-255 with the lower end first")
        }
        self.lower = lower
        self.upper = upper
    }

    /// Parses `50-59` or a single `50`.
    public init(parsing text: String) throws(KeepalivedError) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let lower = Int(parts[0]), let upper = Int(parts.last!) else {
            throw KeepalivedError(
                .invalidVRIDRange,
                "VRID range \"\(text.prefix(32))\" is not N or N-M (for example 50-59, within 1-255)")
        }
        try self.init(lower, upper)
    }

    public var count: Int { upper - lower + 1 }
    public var description: String { lower == upper ? "\(lower)" : "\(lower)-\(upper)" }
}
