public import Foundation

/// Everything needed to talk to one API server, from a kubeconfig or the in-cluster environment.
public struct ClientConfiguration: Sendable {
    public enum Credentials: Sendable, Hashable {
        case none
        case token(String)
        /// Re-read when it changes on disk (projected service-account tokens rotate).
        case tokenFile(String)
    }

    public var server: String
    /// PEM bytes of the CA bundle; nil means the system trust store.
    public var certificateAuthorityPEM: [UInt8]?
    public var clientCertificatePEM: [UInt8]?
    public var clientKeyPEM: [UInt8]?
    public var credentials: Credentials
    /// Only ever true when a kubeconfig says so explicitly.
    public var insecureSkipTLSVerify: Bool
    public var namespace: String
    /// Client-side rate limit (client-go's QPS/Burst).
    public var qps: Double
    public var burst: Int
    /// Deadline for one non-watch request.
    public var requestTimeout: Duration
    /// Where the settings came from, for error messages.
    public var source: String

    public init(
        server: String, certificateAuthorityPEM: [UInt8]? = nil, clientCertificatePEM: [UInt8]? = nil,
        clientKeyPEM: [UInt8]? = nil,
        credentials: Credentials = .none, insecureSkipTLSVerify: Bool = false, namespace: String = "default",
        qps: Double = 50, burst: Int = 100, requestTimeout: Duration = .seconds(30),
        source: String = "explicit configuration"
    ) {
        self.server = server
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
        self.credentials = credentials
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.namespace = namespace
        self.qps = qps
        self.burst = burst
        self.requestTimeout = requestTimeout
        self.source = source
    }
}

extension ClientConfiguration {
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The in-cluster configuration of a Pod. Fails closed: no CA file means no client, never an
    /// unverified connection.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        directory: String = serviceAccountDirectory
    ) throws(KubeError) -> ClientConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw KubeError(
                .configuration,
                "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset; pass "
                    + "--kubeconfig"
            )
        }
        let caPath = directory + "/ca.crt"
        guard let ca = FileManager.default.contents(atPath: caPath), !ca.isEmpty else {
            throw KubeError(
                .configuration,
                "in-cluster CA \(caPath) is missing or empty; mount the service-account token "
                    + "(automountServiceAccountToken) or pass --kubeconfig"
            )
        }
        let tokenPath = directory + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw KubeError(
                .configuration,
                "in-cluster token \(tokenPath) is not readable; mount the service-account token or pass --kubeconfig")
        }
        let namespace = (try? String(contentsOfFile: directory + "/namespace", encoding: .utf8))?.trimmingCharacters(
            in: .whitespacesAndNewlines)
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return ClientConfiguration(
            server: "https://\(hostPart):\(port)", certificateAuthorityPEM: Array(ca),
            credentials: .tokenFile(tokenPath), namespace: namespace ?? "default",
            source: "in-cluster service account (\(directory))")
    }
}
