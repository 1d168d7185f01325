/// Kubernetes object names as they may appear in keepalived's data: a DNS-1123 label
/// (lower-case letters, digits, '-', at most 63). Anything else is refused before it is written.
public enum KubernetesName {
    public static func validateLabel(_ text: String, what: String) throws(KeepalivedError) {
        let bytes = Array(text.utf8)
        let valid =
            !bytes.isEmpty && bytes.count <= 63
            && bytes.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
            && bytes.first != 45 && bytes.last != 45
        guard valid else {
            throw KeepalivedError(
                .invalidName,
                "\(what) \"\(text.prefix(64))\" is not a DNS-1123 label (a-z, 0-9, '-', 1-63 characters, "
                    + "alphanumeric at both ends)"
            )
        }
    }
}
