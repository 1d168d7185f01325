/// Network interface names as Linux accepts them (1-15 bytes, no '/', ':' or whitespace),
/// narrowed to a character set that cannot carry keepalived syntax.
public enum InterfaceName {
    public static func validate(_ text: String) throws(KeepalivedError) {
        let bytes = Array(text.utf8)
        let allowed = bytes.allSatisfy {
            ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95
                || $0 == 46 || $0 == 64
        }
        guard (1...15).contains(bytes.count), allowed, text != ".", text != ".." else {
            throw KeepalivedError(
                .invalidInterfaceName,
                "interface name \"\(text.prefix(32))\" must be 1-15 characters from A-Z a-z 0-9 - _ . @")
        }
    }
}
