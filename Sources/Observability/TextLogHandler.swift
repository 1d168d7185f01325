import Foundation
import KubeClient
public import Logging

/// One line per entry on stderr (`--log-format text`). Values can quote what users wrote, so
/// control characters are escaped: a newline in an annotation must not start a forged log line.
public struct TextLogHandler: LogHandler {
    public let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let line = Self.format(
            timestamp: KubeTime.format(Date(), micro: true), level: event.level, label: label,
            message: "\(event.message)", metadata: metadata.merging(event.metadata ?? [:]) { $1 })
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// `TS LEVEL LABEL: MESSAGE key=value …`, sorted keys, every part escaped and bounded.
    public static func format(
        timestamp: String, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata
    ) -> String {
        var line = "\(timestamp) \(level) \(SafeText.escaped(label)): "
        line += SafeText.escaped(message, limit: SafeText.logValueLimit)
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line +=
                " \(SafeText.escaped(key, limit: 64))=\(SafeText.escaped("\(value)", limit: SafeText.logValueLimit))"
        }
        return line
    }
}
