import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Synchronization

/// A watch response read as fast as the server sends it, buffered here instead of paused by
/// back-pressure: with AsyncHTTPClient's back-pressured body a busy watch (thousands of events
/// a minute) was seen to stop receiving for minutes while the server had more to send. The
/// buffer is bounded: a consumer that falls `limit` bytes behind ends the watch with an error,
/// and the caller resumes from its last resourceVersion.
final class WatchBody: HTTPClientResponseDelegate, Sendable {
    typealias Response = Void

    static let limit = 64 << 20

    let head: EventLoopPromise<HTTPResponseHead>
    let chunks: AsyncThrowingStream<ByteBuffer, any Error>
    private let continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation
    /// Bytes received and not yet taken by the consumer.
    private let outstanding = Mutex(0)

    init(eventLoop: any EventLoop) {
        head = eventLoop.makePromise()
        (chunks, continuation) = AsyncThrowingStream.makeStream(of: ByteBuffer.self)
    }

    /// The consumer took `count` bytes.
    func consumed(_ count: Int) {
        outstanding.withLock { $0 -= count }
    }

    func onTermination(_ handler: @escaping @Sendable () -> Void) {
        continuation.onTermination = { _ in handler() }
    }

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        self.head.succeed(head)
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let behind = outstanding.withLock {
            $0 += buffer.readableBytes
            return $0
        }
        guard behind <= Self.limit else {
            continuation.finish(
                throwing: KubeError(
                    .transport, "the watch consumer fell \(behind >> 20) MiB behind the server; the watch restarts"))
            task.cancel()
            return task.eventLoop.makeSucceededVoidFuture()
        }
        continuation.yield(buffer)
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) {
        head.fail(error)
        continuation.finish(throwing: error)
    }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws {
        continuation.finish()
    }
}
