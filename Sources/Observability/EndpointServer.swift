public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
public import Prometheus
public import ServiceLifecycle

/// Serves `/metrics` (Prometheus text), `/healthz` and `/readyz` over plain HTTP. A lifecycle
/// `Service`: it binds when run and closes on graceful shutdown.
public struct EndpointServer: ServiceLifecycle.Service {
    public typealias Probe = @Sendable () async -> Bool

    let address: BindAddress
    let registry: PrometheusCollectorRegistry?
    let health: Probe
    let ready: Probe
    let logger: Logger
    let onBound: @Sendable (Int) -> Void

    /// `registry` nil: no `/metrics` on this address (health and metrics may listen apart).
    public init(
        address: BindAddress, registry: PrometheusCollectorRegistry?, health: @escaping Probe = { true },
        ready: @escaping Probe = { true },
        logger: Logger, onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.address = address
        self.registry = registry
        self.health = health
        self.ready = ready
        self.logger = logger
        self.onBound = onBound
    }

    public func run() async throws {
        let router = Router(registry: registry, health: health, ready: ready)
        let server: NIOAsyncChannel<Connection, Never>
        do {
            server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: address.host, port: address.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        return try Connection(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw EndpointError(
                .bindFailed, "cannot listen on \(address): \(error); pick another address or free the port")
        }
        let port = server.channel.localAddress?.port ?? address.port
        logger.info(
            "serving endpoints", metadata: ["address": "\(address.host):\(port)", "metrics": "\(registry != nil)"])
        onBound(port)
        // Every connection is a child task: a graceful shutdown closes the listener, then ends them all
        // (scrapers keep connections open).
        try? await withGracefulShutdownHandler {
            try await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        group.addTask { await router.serve(connection) }
                    }
                    group.cancelAll()
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }
}

typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

struct Router: Sendable {
    let registry: PrometheusCollectorRegistry?
    let health: EndpointServer.Probe
    let ready: EndpointServer.Probe

    func respond(to path: String) async -> (status: HTTPResponseStatus, contentType: String, body: [UInt8]) {
        switch path {
        case "/metrics" where registry != nil:
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", registry!.emitToBuffer())
        case "/healthz", "/livez":
            return await health()
                ? (.ok, "text/plain", Array("ok\n".utf8))
                : (.serviceUnavailable, "text/plain", Array("unhealthy\n".utf8))
        case "/readyz":
            return await ready()
                ? (.ok, "text/plain", Array("ok\n".utf8))
                : (.serviceUnavailable, "text/plain", Array("not ready\n".utf8))
        default:
            return (.notFound, "text/plain", Array("not found\n".utf8))
        }
    }
}

extension Router {
    /// Answers one connection's requests in order until the client closes it (or asks to).
    func serve(_ connection: Connection) async {
        try? await connection.executeThenClose { inbound, outbound in
            var path = "/"
            var keepAlive = true
            for try await part in inbound {
                switch part {
                case .head(let head):
                    path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "/")
                    keepAlive = head.isKeepAlive
                case .body:
                    break
                case .end:
                    let response = await respond(to: path)
                    var headers = HTTPHeaders([
                        ("Content-Type", response.contentType), ("Content-Length", "\(response.body.count)"),
                    ])
                    if !keepAlive { headers.add(name: "Connection", value: "close") }
                    try await outbound.write(
                        .head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers)))
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
                    try await outbound.write(.end(nil))
                    if !keepAlive { return }
                }
            }
        }
    }
}
