/// Node names as they appear in the VRRP plan: DNS-1123 subdomains (lower-case alphanumerics,
/// '-', '.', at most 253), so a name can never carry keepalived syntax.
public enum NodeName {
    public static func validate(_ text: String) throws(KeepalivedError) {
        let bytes = Array(text.utf8)
        let labelsOK = text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            let b = Array(label.utf8)
            return !b.isEmpty && b.count <= 63 && b.first != 45 && b.last != 45
                && b.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
        }
        guard !bytes.isEmpty, bytes.count <= 253, labelsOK else {
            throw KeepalivedError(
                .invalidNodeName,
                "node name \"\(text.prefix(64))\" is not a DNS-1123 subdomain (a-z, 0-9, '-', '.', at most 253 "
                    + "characters)"
            )
        }
    }
}
