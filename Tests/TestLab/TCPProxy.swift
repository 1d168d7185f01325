import Foundation

/// A loopback TCP proxy (scripts/lib/tcp-proxy.py) that can partition a client from the server.
public final class TCPProxy: Sendable {
    public let port: Int
    private let child: ChildProcess
    private let outputPath: String

    public init(targetPort: Int) throws {
        outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("tcp-proxy-\(UUID()).out").path
        child = try ChildProcess.spawn(
            ["python3", TestEnvironment.repositoryRoot + "/scripts/lib/tcp-proxy.py", String(targetPort)],
            outputPath: outputPath)
        let deadline = ContinuousClock.now + .seconds(10)
        var port: Int?
        while port == nil && ContinuousClock.now < deadline {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first { port = Int(line) }
            if port == nil { usleep(20_000) }
        }
        guard let port else {
            child.signal(SIGKILL)
            _ = child.waitBlocking()
            throw TestEnvironmentError(message: "tcp-proxy.py did not print its port")
        }
        self.port = port
    }

    /// Closes every proxied connection and refuses new ones.
    public func partition() { child.signal(SIGUSR1) }
    public func heal() { child.signal(SIGUSR2) }

    public func stop() async {
        await child.stop()
        try? FileManager.default.removeItem(atPath: outputPath)
    }
}
