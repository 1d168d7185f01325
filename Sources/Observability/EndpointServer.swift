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
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.pipeline.configureHTTPServerPipeline().flatMap {
                        channel.pipeline.addHandler(HTTPHandler(router: router))
                    }
                }
                .bind(host: address.host, port: address.port).get()
        } catch {
            throw EndpointError(
                .bindFailed, "cannot listen on \(address): \(error); pick another address or free the port")
        }
        let port = channel.localAddress?.port ?? address.port
        logger.info(
            "serving endpoints", metadata: ["address": "\(address.host):\(port)", "metrics": "\(registry != nil)"])
        onBound(port)
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
    }
}

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

final class HTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let router: Router
    private var path = "/"
    private var keepAlive = true

    init(router: Router) { self.router = router }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "/")
            keepAlive = head.isKeepAlive
        case .body:
            break
        case .end:
            let path = self.path
            let keepAlive = self.keepAlive
            let router = self.router
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            Task {
                let response = await router.respond(to: path)
                loop.execute {
                    let (handler, context) = bound.value
                    handler.write(response, keepAlive: keepAlive, context: context)
                }
            }
        }
    }

    private func write(
        _ response: (status: HTTPResponseStatus, contentType: String, body: [UInt8]), keepAlive: Bool,
        context: ChannelHandlerContext
    ) {
        var headers = HTTPHeaders([
            ("Content-Type", response.contentType), ("Content-Length", "\(response.body.count)"),
        ])
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))),
            promise: nil)
        context.write(
            wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
