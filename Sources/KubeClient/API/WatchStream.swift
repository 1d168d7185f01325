/// One watch as an `AsyncSequence`, whichever `KubernetesAPI` serves it. It ends when the server closes the
/// stream; an `ERROR` event (410 Gone among them) is thrown as a `KubeError`.
public struct WatchStream<T: KubernetesObject>: AsyncSequence, Sendable {
    public typealias Element = WatchEvent<T>

    private enum Source: Sendable {
        case http(HTTPWatch<T>)
        case events(AsyncThrowingStream<WatchEvent<T>, any Error>)
    }

    private let source: Source

    init(_ watch: HTTPWatch<T>) {
        source = .http(watch)
    }

    /// A watch whose events come from elsewhere (an in-memory server); the stream's error ends it.
    public init(_ events: AsyncThrowingStream<WatchEvent<T>, any Error>) {
        source = .events(events)
    }

    public func makeAsyncIterator() -> Iterator {
        switch source {
        case .http(let watch): Iterator(.http(watch.makeAsyncIterator()))
        case .events(let events): Iterator(.events(events.makeAsyncIterator()))
        }
    }

    public struct Iterator: AsyncIteratorProtocol {
        fileprivate enum Base {
            case http(HTTPWatch<T>.Iterator)
            case events(AsyncThrowingStream<WatchEvent<T>, any Error>.AsyncIterator)
        }

        private var base: Base

        fileprivate init(_ base: Base) {
            self.base = base
        }

        public mutating func next() async throws -> WatchEvent<T>? {
            switch base {
            case .http(var iterator):
                defer { base = .http(iterator) }
                return try await iterator.next()
            case .events(var iterator):
                defer { base = .events(iterator) }
                return try await iterator.next()
            }
        }
    }
}
