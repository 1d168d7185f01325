/// How IPVS forwards traffic for a VIP, as in kube-keepalived-vip: NAT (masquerade) or DR (direct routing).
public enum ForwardMethod: String, Hashable, Sendable, CaseIterable {
    case nat = "NAT"
    case dr = "DR"

    /// The annotation the predecessor read, kept for compatibility.
    public static let annotation = "k8s.co/keepalived-forward-method"

    /// Accepts `NAT` or `DR` in any case; `source` names where the value came from.
    public init(parsing text: String, source: String) throws(KeepalivedError) {
        guard let method = ForwardMethod(rawValue: text.uppercased()) else {
            throw KeepalivedError(
                .invalidForwardMethod, "\(source) is \"\(text.prefix(64))\"; allowed values are NAT and DR")
        }
        self = method
    }
}
