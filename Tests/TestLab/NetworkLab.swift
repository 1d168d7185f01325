import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a command to completion; returns its exit status and combined output.
public func runCommand(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("cmd-\(UUID()).log").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    let status = try ChildProcess.spawn(arguments, outputPath: path).waitBlocking()
    return (status, (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
}

/// Runs a command to completion without blocking a thread of the test's executor.
public func runCommandAsync(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("cmd-\(UUID()).log").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    let status = try await ChildProcess.spawn(arguments, outputPath: path).exitStatus()
    return (status, (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
}

/// Runs a command that must succeed.
@discardableResult
public func mustRun(_ arguments: [String]) throws -> String {
    let (status, output) = try runCommand(arguments)
    guard status == 0 else {
        throw TestEnvironmentError(message: "\(arguments.joined(separator: " ")) exited \(status): \(output)")
    }
    return output
}

/// Network namespaces for one test: nodes on a bridge in a "switch" namespace, addresses from
/// the documentation ranges only. Everything is deleted by `tearDown()` and, should the test
/// process die first, by scripts/test's sweep (names start with klbt-PID-).
public final class NetworkLab: @unchecked Sendable {
    public let prefix: String
    public private(set) var namespaces: [String] = []
    private let lock = NSLock()
    /// Labs made by parallel tests need distinct names.
    private static let counter = Atomic<Int>(0)

    public init() throws {
        let number = Self.counter.add(1, ordering: .relaxed).newValue
        prefix = "klbt-\(getpid())-\(number)"
        registerLabForCleanup(prefix)
    }

    private func track(_ name: String) {
        lock.lock()
        namespaces.append(name)
        lock.unlock()
    }

    /// A bare namespace with loopback up.
    @discardableResult
    public func namespace(_ suffix: String) throws -> String {
        let name = "\(prefix)-\(suffix)"
        try mustRun(["ip", "netns", "add", name])
        track(name)
        try mustRun(["ip", "-n", name, "link", "set", "lo", "up"])
        return name
    }

    /// The switch: a namespace holding bridge br0.
    public func makeSwitch() throws -> String {
        let name = try namespace("sw")
        try mustRun(["ip", "-n", name, "link", "add", "br0", "type", "bridge"])
        try mustRun(["ip", "-n", name, "link", "set", "br0", "up"])
        return name
    }

    /// A node namespace with eth0 (a veth whose peer is on the switch's bridge) holding `cidr`.
    @discardableResult
    public func node(_ suffix: String, switch sw: String, cidr: String, ipv6: String? = nil) throws -> String {
        let name = try namespace(suffix)
        let peer = "v-\(suffix)"
        try mustRun(["ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", peer, "netns", sw])
        try mustRun(["ip", "-n", sw, "link", "set", peer, "master", "br0", "up"])
        try mustRun(["ip", "-n", name, "addr", "add", cidr, "dev", "eth0"])
        if let ipv6 { try mustRun(["ip", "-n", name, "addr", "add", ipv6, "dev", "eth0", "nodad"]) }
        try mustRun(["ip", "-n", name, "link", "set", "eth0", "up"])
        return name
    }

    /// Addresses on an interface as `ip -j addr` reports them (the outside view).
    public func addresses(in namespace: String, interface: String = "eth0") throws -> [String] {
        let output = try mustRun(["ip", "-j", "-n", namespace, "addr", "show", "dev", interface])
        guard let data = output.data(using: .utf8),
            let links = try JSONSerialization.jsonObject(with: data) as? [[String: Any]]
        else { return [] }
        return links.flatMap { ($0["addr_info"] as? [[String: Any]] ?? []).compactMap { $0["local"] as? String } }
    }

    public func tearDown() {
        lock.lock()
        let names = namespaces.reversed()
        namespaces = []
        lock.unlock()
        for name in names { _ = try? runCommand(["ip", "netns", "delete", name]) }
    }

    deinit { tearDown() }
}

nonisolated(unsafe) private var labPrefixes: [String] = []
private let labLock = NSLock()

/// At exit, deletes any namespace of this process still present (a test that crashed midway).
private func registerLabForCleanup(_ prefix: String) {
    labLock.lock()
    defer { labLock.unlock() }
    if labPrefixes.isEmpty {
        atexit {
            guard let (_, output) = try? runCommand(["ip", "netns", "list"]) else { return }
            let mine = "klbt-\(getpid())-"
            for line in output.split(separator: "\n") {
                let name = String(line.split(separator: " ").first ?? "")
                if name.hasPrefix(mine) { _ = try? runCommand(["ip", "netns", "delete", name]) }
            }
        }
    }
    labPrefixes.append(prefix)
}
