/// What a keepalived executable was built with, read from its `--version` output: which command-line options
/// it accepts depends on that (a build without LVS has no `--vrrp`, and there `--vrrp` abbreviates `--vrrp_pid`).
public struct KeepalivedBuild: Sendable, Hashable {
    /// "v2.2.7", or nil when the output did not say.
    public let version: String?
    /// The build's "Config options" line, e.g. `VRRP`, `LVS`, `BFD`.
    public let options: Set<String>

    /// Reads `keepalived --version` output; nil when it is not keepalived's.
    public init?(versionOutput: String) {
        var version: String?
        var options: Set<String>?
        for line in versionOutput.split(separator: "\n").prefix(64) {
            let words = line.split(separator: " ")
            if version == nil, words.count >= 2, words[0] == "Keepalived", words[1].hasPrefix("v") {
                version = String(words[1].prefix(32))
            } else if line.hasPrefix("Config options:") {
                options = Set(words.dropFirst(2).prefix(64).map { String($0.prefix(64)) })
            }
        }
        guard version != nil || options != nil else { return nil }
        self.version = version
        // Keepalived before 1.4 printed no options line; those builds always had both subsystems.
        self.options = options ?? ["LVS", "VRRP"]
    }

    /// The option that runs the VRRP subsystem alone, when the build has another one to leave out.
    public var vrrpOnlyArguments: [String] { options.contains("LVS") ? ["--vrrp"] : [] }
}
