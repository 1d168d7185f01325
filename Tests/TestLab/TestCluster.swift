import Foundation
public import KubeClient
@_exported import ProcessSupervision

/// A real control plane started through `scripts/testenv` (etcd + kube-apiserver on free ports).
public struct TestCluster: Sendable {
    public let name: String
    public let directory: String
    public let adminKubeconfig: String
    public let controllerKubeconfig: String
    public let server: String

    /// The plain user `klb-agent` (no roles until a test binds deploy/'s).
    public var agentKubeconfig: String { directory + "/agent.kubeconfig" }

    /// The plain user `klb-viewer` (for the kubectl plugin; no roles until a test binds one).
    public var viewerKubeconfig: String { directory + "/viewer.kubeconfig" }

    /// The API server's audit log: one JSON object per line for each request of the three plain users.
    public var auditLog: String { directory + "/audit.log" }

    public var apiPort: Int { Int(server.split(separator: ":").last ?? "") ?? 0 }

    public func adminClient(qps: Double = 0) throws -> KubernetesClient {
        var configuration = try KubeConfig.load(path: adminKubeconfig)
        configuration.qps = qps
        return try KubernetesClient(configuration: configuration)
    }

    /// The plain user `klb-controller`: only what RBAC grants it.
    public func controllerClient() throws -> KubernetesClient {
        try KubernetesClient(configuration: try KubeConfig.load(path: controllerKubeconfig))
    }

    /// A client that reaches the server through `port` (a `TCPProxy`), verifying the same certificate.
    public func adminClient(throughPort port: Int) throws -> KubernetesClient {
        var configuration = try KubeConfig.load(path: adminKubeconfig)
        configuration.server = "https://127.0.0.1:\(port)"
        configuration.qps = 0
        // While partitioned, the HTTP client retries connecting until the request deadline.
        configuration.requestTimeout = .seconds(5)
        return try KubernetesClient(configuration: configuration)
    }

    public func restartAPIServer() async throws {
        _ = try await TestEnvironment.script(["restart", name])
    }

    public func stop() async {
        _ = try? await TestEnvironment.script(["down", name])
    }

    /// Applies deploy/base/rbac.yaml (its namespaced objects moved to `namespace`) and binds `role` to the
    /// plain `user`, so a test proves that what deploy/ grants is sufficient.
    /// Serialized and retried: parallel tests share the cluster-scoped roles, and two concurrent
    /// `kubectl apply` of one missing object both try to create it.
    public func bindDeployRole(_ role: String, to user: String, namespace: String) async throws {
        let manifest = try String(
            contentsOfFile: TestEnvironment.repositoryRoot + "/deploy/base/rbac.yaml", encoding: .utf8
        )
        .replacingOccurrences(of: "namespace: kube-system", with: "namespace: \(namespace)")
        let bindings = """
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRoleBinding
            metadata: {name: \(user)-\(namespace)}
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: \(role)}
            subjects: [{kind: User, name: \(user), apiGroup: rbac.authorization.k8s.io}]
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata: {name: \(user), namespace: \(namespace)}
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: \(role)}
            subjects: [{kind: User, name: \(user), apiGroup: rbac.authorization.k8s.io}]
            """
        // Unique per call: two tests may bind the same user in the same namespace at once.
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("rbac-\(user)-\(namespace)-\(UUID().uuidString).yaml").path
        try (manifest + "\n" + bindings).write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await kubectlGate.apply(kubeconfig: adminKubeconfig, path: path)
    }

    /// Takes back the namespaced part of `bindDeployRole` (the Role's binding in `namespace`).
    public func unbindDeployRole(user: String, namespace: String) async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("unbind-\(user)-\(namespace).log").path
        try await kubectlGate.run(
            ["-n", namespace, "delete", "rolebinding", user], kubeconfig: adminKubeconfig, log: log)
    }

    /// A fresh namespace for one test, so parallel tests never see each other's objects.
    public func makeNamespace(_ client: KubernetesClient, prefix: String = "t") async throws -> String {
        let name = "\(prefix)-\(UInt32.random(in: 0...UInt32.max))".lowercased()
        _ = try await client.create(Namespace(name: name))
        return name
    }
}

public enum TestEnvironment {
    /// The repository root, found from this file's path.
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    private static let sharedCluster = SharedCluster()

    /// A product of this package from the debug build (`scripts/test` builds them all).
    public static func builtBinary(_ name: String) -> String? {
        [".build/debug", ".build/x86_64-unknown-linux-gnu/debug", ".build/aarch64-unknown-linux-gnu/debug"]
            .map { "\(repositoryRoot)/\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// One control plane per test process, started on first use and stopped at exit.
    public static func shared() async throws -> TestCluster {
        try await sharedCluster.get()
    }

    /// A dedicated control plane (for tests that restart it); the caller stops it. `dualStack`: the
    /// IPv6DualStack gate and an IPv6 Service range beside the IPv4 one (`scripts/testenv up NAME --dual-stack`).
    public static func start(prefix: String, dualStack: Bool = false) async throws -> TestCluster {
        let name = "\(prefix)-\(getpid())-\(UInt16.random(in: 0...UInt16.max))"
        registerForCleanup(name)
        let output = try await script(["up", name] + (dualStack ? ["--dual-stack"] : []))
        var values: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1)
            if pair.count == 2 { values[String(pair[0])] = String(pair[1]) }
        }
        guard let admin = values["KUBECONFIG"], let controller = values["KLB_CONTROLLER_KUBECONFIG"],
            let dir = values["KLB_TESTENV_DIR"], let server = values["KLB_APISERVER_URL"]
        else {
            throw TestEnvironmentError(message: "scripts/testenv up \(name) printed no environment:\n\(output)")
        }
        return TestCluster(
            name: name, directory: dir, adminKubeconfig: admin, controllerKubeconfig: controller, server: server)
    }

    /// Runs `scripts/testenv`; throws with its output on failure.
    @discardableResult
    public static func script(_ arguments: [String]) async throws -> String {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("testenv-\(UUID()).log").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let child = try ChildProcess.spawn(
            ["bash", repositoryRoot + "/scripts/testenv"] + arguments, outputPath: outputPath)
        let status = await child.exitStatus()
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw TestEnvironmentError(
                message: "scripts/testenv \(arguments.joined(separator: " ")) failed (\(status)):\n\(output)")
        }
        return output
    }
}

public struct TestEnvironmentError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

private actor SharedCluster {
    private var task: Task<TestCluster, any Error>?

    func get() async throws -> TestCluster {
        if let task { return try await task.value }
        let task = Task { try await TestEnvironment.start(prefix: "swift") }
        self.task = task
        return try await task.value
    }
}

private let kubectlGate = KubectlGate()

private actor KubectlGate {
    func apply(kubeconfig: String, path: String) async throws {
        try await run(["apply", "-f", path], kubeconfig: kubeconfig, log: path + ".log")
    }

    /// Runs kubectl, retried twice (a concurrent apply of the same missing object fails once).
    func run(_ arguments: [String], kubeconfig: String, log: String) async throws {
        defer { try? FileManager.default.removeItem(atPath: log) }
        var output = ""
        for _ in 0..<3 {
            let child = try ChildProcess.spawn(["kubectl", "--kubeconfig", kubeconfig] + arguments, outputPath: log)
            let status = await child.exitStatus()
            if status == 0 { return }
            output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestEnvironmentError(message: "kubectl \(arguments.joined(separator: " ")) failed:\n\(output)")
    }
}

/// Names of environments this process started; `atexit` stops them even when tests fail.
nonisolated(unsafe) private var startedEnvironments: [String] = []
private let cleanupLock = NSLock()

private func registerForCleanup(_ name: String) {
    cleanupLock.lock()
    defer { cleanupLock.unlock() }
    if startedEnvironments.isEmpty {
        atexit {
            cleanupLock.lock()
            let names = startedEnvironments
            cleanupLock.unlock()
            for name in names {
                _ = try? ChildProcess.spawn(
                    ["bash", TestEnvironment.repositoryRoot + "/scripts/testenv", "down", name], outputPath: "/dev/null"
                ).waitBlocking()
            }
        }
    }
    startedEnvironments.append(name)
}
