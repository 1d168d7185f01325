import AsyncHTTPClient
import NIOCore

public struct WatchOptions: Sendable {
    public var resourceVersion: String?
    public var labelSelector: String?
    public var fieldSelector: String?
    public var allowBookmarks: Bool
    /// The server ends the watch after this long; callers resume from the last resourceVersion.
    public var timeoutSeconds: Int

    public init(resourceVersion: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil, allowBookmarks: Bool = true, timeoutSeconds: Int = 300) {
        self.resourceVersion = resourceVersion
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.allowBookmarks = allowBookmarks
        self.timeoutSeconds = timeoutSeconds
    }
}

/// One watch request as an `AsyncSequence`. Events are decoded only as the consumer asks for
/// them, so the buffering is bounded by the HTTP client's back-pressure, not by the producer.
/// It ends when the server closes the stream; an `ERROR` event (e.g. 410 Gone) is thrown.
public struct WatchStream<T: KubernetesObject>: AsyncSequence, Sendable {
    public typealias Element = WatchEvent<T>
    let client: KubernetesClient
    let namespace: String?
    let options: WatchOptions

    public func makeAsyncIterator() -> Iterator {
        Iterator(stream: self)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let stream: WatchStream
        var body: HTTPClientResponse.Body.AsyncIterator?
        var splitter = LineSplitter()
        var finished = false
        var started = false

        init(stream: WatchStream) {
            self.stream = stream
        }

        public mutating func next() async throws -> WatchEvent<T>? {
            let request = "WATCH \(T.resource.path(namespace: stream.namespace))"
            if finished { return nil }
            if !started {
                started = true
                body = try await stream.open()
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
                    throw KubernetesClient.transportError(error, request: request, configuration: stream.client.configuration)
                }
                guard let chunk else {
                    finished = true
                    return nil
                }
                splitter.append(chunk.readableBytesView)
            }
        }
    }

    func open() async throws(KubeError) -> HTTPClientResponse.Body.AsyncIterator {
        let path = T.resource.path(namespace: namespace)
        var query: [(String, String)] = [("watch", "1"), ("timeoutSeconds", String(options.timeoutSeconds))]
        if options.allowBookmarks { query.append(("allowWatchBookmarks", "true")) }
        if let rv = options.resourceVersion { query.append(("resourceVersion", rv)) }
        if let labelSelector = options.labelSelector { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector = options.fieldSelector { query.append(("fieldSelector", fieldSelector)) }
        let request = try await client.makeRequest(method: .GET, path: path, query: query, body: nil, contentType: nil)
        let response: HTTPClientResponse
        do {
            response = try await client.http.execute(request, timeout: .seconds(Int64(options.timeoutSeconds) + 30))
        } catch {
            throw KubernetesClient.transportError(error, request: "WATCH \(path)", configuration: client.configuration)
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let bytes = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
            throw KubernetesClient.apiError(status: status, body: bytes, request: "WATCH \(path)")
        }
        return response.body.makeAsyncIterator()
    }
}

extension KubernetesClient {
    /// Starts a watch. Iterate the result; resume from the last event's resourceVersion when it ends.
    public func watch<T: KubernetesObject>(_ type: T.Type, namespace: String? = nil, options: WatchOptions = WatchOptions()) -> WatchStream<T> {
        WatchStream(client: self, namespace: namespace, options: options)
    }
}
