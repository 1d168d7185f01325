import Foundation

/// Supplies the bearer token; a token file is re-read when it changes (service-account tokens
/// rotate hourly) and after a 401.
actor TokenSource {
    private let credentials: ClientConfiguration.Credentials
    private var cached: String?
    /// When the file was last read, as `elapsed()` read then.
    private var readAt: Duration?
    private let elapsed: @Sendable () -> Duration

    /// `clock`: what the minute between re-reads of a token file is measured on.
    init(_ credentials: ClientConfiguration.Credentials, clock: some Clock<Duration>) {
        self.credentials = credentials
        elapsed = stopwatch(on: clock)
    }

    func token(forceReload: Bool = false) throws(KubeError) -> String? {
        switch credentials {
        case .none:
            return nil
        case .token(let token):
            return token
        case .tokenFile(let path):
            if !forceReload, let cached, let readAt, elapsed() - readAt < .seconds(60) { return cached }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw KubeError(.configuration, "token file \(path) cannot be read")
            }
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw KubeError(.configuration, "token file \(path) is empty") }
            cached = token
            readAt = elapsed()
            return token
        }
    }
}
