import Errors
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reads keepalived's notify FIFO on a thread of its own (reads block) and hands parsed messages
/// to an async stream. Opened read-write so a keepalived restart is not an end of file.
public final class NotifyFIFO: @unchecked Sendable {
    public let path: String
    public let messages: AsyncStream<NotifyMessage>
    private let continuation: AsyncStream<NotifyMessage>.Continuation
    private var fd: Int32 = -1
    private static let stopLine = "AGENT-STOP"

    public init(path: String) throws(AgentError) {
        self.path = path
        (messages, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(4096))
        unlink(path)
        guard mkfifo(path, 0o600) == 0 else {
            throw AgentError(
                .notifyFIFOFailed, "\(SystemCallError("cannot create notify FIFO \(path)")); check --state-dir")
        }
        fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw AgentError(.notifyFIFOFailed, "\(SystemCallError("cannot open notify FIFO \(path)"))")
        }
        let fd = self.fd
        let continuation = self.continuation
        let thread = Thread {
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            reading: while true {
                let n = read(fd, &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pending += buffer[0..<n]
                while let newline = pending.firstIndex(of: 10) {
                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeSubrange(...newline)
                    if line == Self.stopLine { break reading }
                    if let message = NotifyMessage(line: Substring(line)) { continuation.yield(message) }
                }
            }
            Glibc.close(fd)
            continuation.finish()
        }
        thread.name = "notify-fifo"
        thread.start()
    }

    /// Unblocks the reader thread (a line it recognises) and removes the FIFO.
    public func close() {
        let line = Array((Self.stopLine + "\n").utf8)
        let writer = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        if writer >= 0 {
            _ = line.withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }
            Glibc.close(writer)
        }
        unlink(path)
    }
}
