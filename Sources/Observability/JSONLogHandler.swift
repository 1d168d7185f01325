import Foundation
import KubeClient
public import Logging

/// One JSON object per line on stderr, for log collectors (`--log-format json`).
public struct JSONLogHandler: LogHandler {
    public let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: String] = [
            "ts": KubeTime.format(Date(), micro: true), "level": "\(event.level)", "logger": label,
            "msg": "\(event.message)",
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            object[key] = "\(value)"
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        FileHandle.standardError.write(data + Data("\n".utf8))
    }
}

/// Both executables log the same way: `--log-format text|json`, `--log-level`.
public enum LogSetup {
    public static let levels = "trace, debug, info, notice, warning, error, critical"

    /// nil when both values are valid, else the line to show.
    public static func problem(format: String, level: String) -> String? {
        if !["text", "json"].contains(format) { return "--log-format \(format): allowed values are text and json" }
        if Logger.Level(rawValue: level) == nil { return "--log-level \(level): allowed values are \(levels)" }
        return nil
    }

    public static func bootstrap(format: String, level: String) {
        let level = Logger.Level(rawValue: level) ?? .info
        let json = format == "json"
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : TextLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
