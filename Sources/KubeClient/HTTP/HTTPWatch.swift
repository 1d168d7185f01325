import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// One watch request over HTTP. Events are decoded only as the consumer asks for them. It ends when
/// the server closes the stream; an `ERROR` event (e.g. 410 Gone) is thrown.
struct HTTPWatch<T: KubernetesObject>: AsyncSequence, Sendable {
    typealias Element = WatchEvent<T>
    let client: KubernetesClient
    let namespace: String?
    let options: WatchOptions

    func makeAsyncIterator() -> Iterator {
        Iterator(stream: self)
    }

    struct Iterator: AsyncIteratorProtocol {
        let stream: HTTPWatch
        var connection: WatchConnection?
        var body: AsyncThrowingStream<ByteBuffer, any Error>.AsyncIterator?
        var splitter = LineSplitter()
        var finished = false
        var started = false

        init(stream: HTTPWatch) {
            self.stream = stream
        }

        mutating func next() async throws -> WatchEvent<T>? {
            let request = "WATCH \(T.resource.path(namespace: stream.namespace))"
            if finished { return nil }
            if !started {
                started = true
                let connection = try await stream.open()
                self.connection = connection
                body = connection.body.chunks.makeAsyncIterator()
            }
            while true {
                if let line = try splitter.nextLine() {
                    return try WatchEvent<T>.decode(line, request: request)
                }
                let chunk: ByteBuffer?
                do {
                    chunk = try await body?.next()
                } catch {
                    finished = true
                    throw KubernetesClient.transportError(
                        error, request: request, configuration: stream.client.configuration)
                }
                guard let chunk else {
                    finished = true
                    return nil
                }
                connection?.body.consumed(chunk.readableBytes)
                splitter.append(chunk.readableBytesView)
            }
        }
    }

    func open() async throws(KubeError) -> WatchConnection {
        let path = T.resource.path(namespace: namespace)
        var query: [(String, String)] = [("watch", "1"), ("timeoutSeconds", String(options.timeoutSeconds))]
        if options.allowBookmarks { query.append(("allowWatchBookmarks", "true")) }
        if let rv = options.resourceVersion { query.append(("resourceVersion", rv)) }
        if let labelSelector = options.labelSelector { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector = options.fieldSelector { query.append(("fieldSelector", fieldSelector)) }
        let request = try await client.makeRequest(method: .GET, path: path, query: query, body: nil, contentType: nil)
        let connection: WatchConnection
        let head: HTTPResponseHead
        do {
            let legacy = try HTTPClient.Request(url: request.url, method: request.method, headers: request.headers)
            let eventLoop = client.watchHTTP.eventLoopGroup.next()
            let body = WatchBody(eventLoop: eventLoop)
            let task = client.watchHTTP.execute(
                request: legacy, delegate: body, eventLoop: .delegate(on: eventLoop),
                deadline: .now() + .seconds(Int64(options.timeoutSeconds) + 30))
            connection = WatchConnection(task: task, body: body)
            head = try await withTaskCancellationHandler {
                try await body.head.futureResult.get()
            } onCancel: {
                task.cancel()
            }
        } catch {
            throw KubernetesClient.transportError(error, request: "WATCH \(path)", configuration: client.configuration)
        }
        let status = Int(head.status.code)
        guard (200..<300).contains(status) else {
            var bytes = ByteBuffer()
            do {
                for try await var chunk in connection.body.chunks where bytes.readableBytes < 1 << 20 {
                    bytes.writeBuffer(&chunk)
                }
            } catch {}
            throw KubernetesClient.apiError(status: status, body: bytes, request: "WATCH \(path)")
        }
        return connection
    }
}

/// One open watch request; dropping it (the consumer stopped iterating) cancels the request.
final class WatchConnection: Sendable {
    let task: HTTPClient.Task<Void>
    let body: WatchBody

    init(task: HTTPClient.Task<Void>, body: WatchBody) {
        self.task = task
        self.body = body
        body.onTermination { task.cancel() }
    }

    deinit {
        task.cancel()
    }
}

extension KubernetesClient {
    /// Starts a watch. Iterate the result; resume from the last event's resourceVersion when it ends.
    public func watch<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, options: WatchOptions = WatchOptions()
    ) -> WatchStream<T> {
        WatchStream(HTTPWatch(client: self, namespace: namespace, options: options))
    }
}
