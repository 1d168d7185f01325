import IPAM

/// The kube-keepalived-vip ConfigMap data: `"<ip>": "<namespace>/<name>"` or
/// `"<ip>": "<namespace>/<name>:<NAT|DR>"`. Kept byte-compatible so the old DaemonSet still works.
public enum VIPConfigMapFormat {
    public static func encode(_ entries: [VIPEntry]) -> [String: String] {
        var data: [String: String] = [:]
        for entry in entries {
            data[entry.address.description] = entry.serviceKey + (entry.forwardMethod.map { ":\($0.rawValue)" } ?? "")
        }
        return data
    }

    /// Decodes what it can; every entry it cannot read is reported, never silently dropped.
    /// Keys that are not addresses (other tools' data) are ignored and reported separately.
    public static func decode(_ data: [String: String]) -> (entries: [VIPEntry], invalid: [String]) {
        var entries: [VIPEntry] = []
        var invalid: [String] = []
        for (key, value) in data.sorted(by: { $0.key < $1.key }) {
            do {
                let address = try IPAddress(key)
                let (service, method) = splitMethod(value)
                let parts = service.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw KeepalivedError(.invalidEntry, "value must be namespace/name[:NAT|DR]")
                }
                let forward = try method.map { m throws(KeepalivedError) in
                    try ForwardMethod(parsing: m, source: "forward method")
                }
                entries.append(
                    try VIPEntry(
                        address: address, namespace: String(parts[0]), name: String(parts[1]), forwardMethod: forward))
            } catch {
                invalid.append("\(key.prefix(64)): \(error)")
            }
        }
        return (entries, invalid)
    }

    private static func splitMethod(_ value: String) -> (String, String?) {
        guard let colon = value.lastIndex(of: ":") else { return (value, nil) }
        return (String(value[..<colon]), String(value[value.index(after: colon)...]))
    }
}
