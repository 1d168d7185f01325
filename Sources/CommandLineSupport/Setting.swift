import ArgumentParser

/// A value from a flag or, failing that, from an environment variable (the predecessor's
/// `KEEPALIVED_*`, or `NODE_NAME` from the downward API). It remembers which, so an error names
/// what the operator actually set.
public struct Setting: Sendable, Equatable {
    public let value: String
    /// `--namespace` or `env KEEPALIVED_NAMESPACE`.
    public let source: String

    public init(value: String, source: String) {
        self.value = value
        self.source = source
    }

    /// The flag's value if given, else the variable's (empty counts as unset), else nil.
    public static func resolve(flag: String, _ flagValue: String?, env: String, in environment: [String: String])
        -> Setting?
    {
        if let flagValue { return Setting(value: flagValue, source: flag) }
        if let value = environment[env], !value.isEmpty { return Setting(value: value, source: "env \(env)") }
        return nil
    }

    /// A namespace (DNS-1123 label) or object name (DNS-1123 subdomain), else a validation error
    /// naming the flag or variable it came from.
    public func validatedName(subdomain: Bool) throws -> String {
        let bytes = Array(value.utf8)
        let allowed: (UInt8) -> Bool = {
            ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || (subdomain && $0 == 46)
        }
        let alphanumeric: (UInt8?) -> Bool = { $0.map { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) } ?? false }
        guard !bytes.isEmpty, bytes.count <= (subdomain ? 253 : 63), bytes.allSatisfy(allowed),
            alphanumeric(bytes.first), alphanumeric(bytes.last)
        else {
            let kind =
                subdomain
                ? "DNS-1123 subdomain (a-z, 0-9, '-', '.', 1-253 characters)"
                : "DNS-1123 label (a-z, 0-9, '-', 1-63 characters)"
            throw ValidationError(
                "\(source) \"\(String(value.prefix(64)).debugDescription.dropFirst().dropLast())\": not a \(kind), "
                    + "alphanumeric at both ends"
            )
        }
        return value
    }
}
