import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import Observability

/// The endpoint server on loopback: answers on a kept-alive connection, and a graceful shutdown ends it even
/// while a scraper still holds a connection open.
extension Array where Element: Equatable {
    fileprivate func ends(with suffix: [Element]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}

@Suite("Endpoint server")
struct EndpointServerTests {
    /// One HTTP/1.1 exchange on a connected socket; returns the status line.
    private static func exchange(_ socket: Int32, path: String) throws -> String {
        let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(socket, $0.baseAddress, $0.count, 0) }) == request.count else {
            throw POSIXError(.EIO)
        }
        // Byte by byte: the head and exactly Content-Length bytes of body, nothing of the next response.
        func readByte() throws -> UInt8 {
            var byte: UInt8 = 0
            guard recv(socket, &byte, 1, 0) == 1 else { throw POSIXError(.ECONNRESET) }
            return byte
        }
        var head: [UInt8] = []
        while !head.ends(with: Array("\r\n\r\n".utf8)) { head.append(try readByte()) }
        let lines = String(decoding: head, as: UTF8.self).split(separator: "\r\n")
        let length =
            lines.first { $0.lowercased().hasPrefix("content-length:") }.flatMap {
                Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
            } ?? 0
        for _ in 0..<length { _ = try readByte() }
        return String(lines.first ?? "")
    }

    private static func connect(to port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
        return fd
    }

    @Test(.timeLimit(.minutes(1)))
    func answersOnAKeptAliveConnectionAndShutsDownWithItOpen() async throws {
        let bound = Mutex<Int?>(nil)
        let ready = Mutex(false)
        let server = EndpointServer(
            address: BindAddress(host: "127.0.0.1", port: 0), registry: nil,
            ready: { ready.withLock { $0 } }, logger: Logger(label: "test"),
            onBound: { port in bound.withLock { $0 = port } })
        let group = ServiceGroup(
            services: [server], gracefulShutdownSignals: [], cancellationSignals: [], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while bound.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(5)) }
            let fd = try Self.connect(to: bound.withLock { $0 }!)
            defer { close(fd) }
            #expect(try Self.exchange(fd, path: "/healthz") == "HTTP/1.1 200 OK")
            #expect(try Self.exchange(fd, path: "/readyz") == "HTTP/1.1 503 Service Unavailable")
            ready.withLock { $0 = true }
            #expect(try Self.exchange(fd, path: "/readyz?verbose") == "HTTP/1.1 200 OK")
            #expect(try Self.exchange(fd, path: "/metrics") == "HTTP/1.1 404 Not Found", "no registry here")
            // The connection stays open; the shutdown must not wait for the client.
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
