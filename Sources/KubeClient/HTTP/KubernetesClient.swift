import AsyncHTTPClient
import CoreMetrics
import Foundation
public import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// A Kubernetes API client. One instance per process; it is safe to share between tasks.
public final class KubernetesClient: Sendable {
    public let configuration: ClientConfiguration
    let http: HTTPClient
    /// Watches get HTTP/1.1 connections of their own. On the shared HTTP/2 connection a busy
    /// watch stopped receiving under a burst of requests (the server sent nothing until the
    /// watch timed out a minute later); one connection per watch keeps event delivery
    /// independent of request traffic.
    let watchHTTP: HTTPClient
    let logger: Logger
    private let limiter: RateLimiter
    private let tokens: TokenSource
    private let baseURL: String

    /// `clock`: what the rate limiter's tokens and the bearer token's re-read interval are measured on.
    public init(
        configuration: ClientConfiguration, clock: some Clock<Duration> = ContinuousClock(),
        logger: Logger = Logger(label: "kubeclient")
    ) throws(KubeError) {
        self.configuration = configuration
        self.logger = logger
        limiter = RateLimiter(qps: configuration.qps, burst: configuration.burst, clock: clock)
        tokens = TokenSource(configuration.credentials, clock: clock)
        baseURL = configuration.server

        var httpConfiguration = HTTPClient.Configuration()
        if configuration.server.hasPrefix("https://") {
            httpConfiguration.tlsConfiguration = try Self.tlsConfiguration(configuration)
        }
        httpConfiguration.timeout = .init(connect: .seconds(10))
        httpConfiguration.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
        httpConfiguration.decompression = .disabled
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
        var watchConfiguration = httpConfiguration
        watchConfiguration.httpVersion = .http1Only
        watchHTTP = HTTPClient(eventLoopGroupProvider: .singleton, configuration: watchConfiguration)
    }

    static func tlsConfiguration(_ configuration: ClientConfiguration) throws(KubeError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = configuration.certificateAuthorityPEM {
                let certificates = try NIOSSLCertificate.fromPEMBytes(ca)
                guard !certificates.isEmpty else {
                    throw KubeError(
                        .configuration, "\(configuration.source): the certificate authority holds no PEM certificate")
                }
                tls.trustRoots = .certificates(certificates)
            }
            if let cert = configuration.clientCertificatePEM, let key = configuration.clientKeyPEM {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(cert).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch let error as KubeError {
            throw error
        } catch {
            throw KubeError(.configuration, "\(configuration.source): cannot load TLS material: \(error)")
        }
        if configuration.insecureSkipTLSVerify {
            tls.certificateVerification = .none
        }
        return tls
    }

    private let isShutDown = Mutex(false)

    /// Closes connections. Call once, before the process exits.
    public func shutdown() async throws {
        guard
            isShutDown.withLock({
                let was = $0
                $0 = true
                return !was
            })
        else { return }
        try await watchHTTP.shutdown()
        try await http.shutdown()
    }

    /// A client dropped without `shutdown()` (a test that failed half-way, say) still closes its
    /// connections: a shutting-down HTTP client keeps itself alive until it is done.
    deinit {
        guard !isShutDown.withLock({ $0 }) else { return }
        _ = watchHTTP.shutdown()
        _ = http.shutdown()
    }

    // MARK: - Requests

    struct Response {
        let status: Int
        let body: ByteBuffer
    }

    func makeRequest(method: HTTPMethod, path: String, query: [(String, String)], body: Data?, contentType: String?)
        async throws(KubeError) -> HTTPClientRequest
    {
        var url = baseURL + path
        if !query.isEmpty {
            url += "?" + query.map { "\($0.0)=\(Self.queryEscape($0.1))" }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "keepalived-lb/0.1")
        if let token = try await tokens.token() {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType ?? "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return request
    }

    /// RFC 3986 unreserved characters pass; everything else is percent-encoded byte by byte.
    static func queryEscape(_ value: String) -> String {
        value.pathEscaped
    }

    /// Sends one request and returns the body of a 2xx response; other statuses become `KubeError`.
    func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil,
        contentType: String? = nil
    ) async throws(KubeError) -> ByteBuffer {
        let description = "\(method.rawValue) \(path)"
        var retriedAuth = false
        while true {
            do { try await limiter.acquire() } catch {
                throw KubeError(.timeout, "\(description): cancelled while rate-limited")
            }
            let request = try await makeRequest(
                method: method, path: path, query: query, body: body, contentType: contentType)
            let response: HTTPClientResponse
            let bytes: ByteBuffer
            do {
                response = try await http.execute(request, timeout: .init(configuration.requestTimeout))
                bytes = try await response.body.collect(upTo: 64 << 20)
            } catch {
                throw Self.transportError(error, request: description, configuration: configuration)
            }
            let status = Int(response.status.code)
            Self.countRequest(method, path, status: status)
            if (200..<300).contains(status) { return bytes }
            if status == 401, !retriedAuth, case .tokenFile = configuration.credentials {
                // The token may have rotated under us: re-read it once.
                retriedAuth = true
                _ = try await tokens.token(forceReload: true)
                continue
            }
            throw Self.apiError(status: status, body: bytes, request: description)
        }
    }

    /// `keepalived_lb_api_requests_total{method,resource,code}`, like client-go's
    /// rest_client_requests_total but per resource: which writes a controller spends.
    static func countRequest(_ method: HTTPMethod, _ path: String, status: Int) {
        Counter(
            label: "keepalived_lb_api_requests_total",
            dimensions: [("method", method.rawValue), ("resource", resourceLabel(path)), ("code", String(status))]
        ).increment()
    }

    /// `/api/v1/namespaces/ns/services/name/status` → `services/status`; names never become labels.
    static func resourceLabel(_ path: String) -> String {
        var parts = path.split(separator: "/").dropFirst()  // "api" or "apis"
        parts = parts.dropFirst(path.hasPrefix("/apis/") ? 2 : 1)  // group and version
        if parts.first == "namespaces", parts.count >= 3 { parts = parts.dropFirst(2) }
        guard let resource = parts.first else { return "namespaces" }
        return parts.count >= 3 ? "\(resource)/\(parts[parts.startIndex + 2])" : String(resource)
    }

    static func apiError(status: Int, body: ByteBuffer, request: String) -> KubeError {
        let apiStatus = (try? JSONValue.parse(body.readableBytesView))?.objectValue.map(APIStatus.init(json:))
        return KubeError.from(
            httpStatus: status, status: apiStatus?.json["kind"]?.stringValue == "Status" ? apiStatus : nil,
            request: request)
    }

    static func transportError(_ error: any Error, request: String, configuration: ClientConfiguration) -> KubeError {
        if let error = error as? KubeError { return error }
        if let error = error as? HTTPClientError,
            error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout
        {
            return KubeError(.timeout, "\(request) to \(configuration.server): \(error)")
        }
        if error is CancellationError { return KubeError(.timeout, "\(request): cancelled") }
        if error is NIOSSLError || String(describing: error).contains("handshakeFailed")
            || String(describing: error).contains("SSL")
        {
            return KubeError(
                .transport,
                "\(request) to \(configuration.server): TLS failed: \(error); check the certificate authority in "
                    + "\(configuration.source)"
            )
        }
        return KubeError(.transport, "\(request) to \(configuration.server): \(error)")
    }

    func decode<T: KubernetesObject>(_ type: T.Type, _ bytes: ByteBuffer, request: String) throws(KubeError) -> T {
        T(json: try Self.jsonObject(bytes, request: request))
    }

    /// The response body as a JSON object, or a `.decoding` error naming the request.
    static func jsonObject(_ bytes: ByteBuffer, request: String) throws(KubeError) -> JSONObject {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes.readableBytesView) } catch {
            throw KubeError(.decoding, "\(request): invalid JSON in response: \(error)")
        }
        guard let object = value.objectValue else {
            throw KubeError(.decoding, "\(request): response is not a JSON object")
        }
        return object
    }

    static func encode(_ value: JSONValue) throws(KubeError) -> Data {
        do { return try value.serialized() } catch {
            throw KubeError(.unexpected, "cannot encode request body: \(error)")
        }
    }
}
