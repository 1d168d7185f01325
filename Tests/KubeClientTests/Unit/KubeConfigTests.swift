import Foundation
import InMemoryAPI
import Testing

@testable import KubeClient

@Suite("kubeconfig and in-cluster configuration")
struct KubeConfigTests {
    static let caPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

    static func config(_ body: String) -> String {
        """
        apiVersion: v1
        kind: Config
        current-context: one
        \(body)
        """
    }

    static let standard = config(
        """
        clusters:
        - name: c1
          cluster:
            server: https://192.0.2.10:6443/
            certificate-authority-data: \(Data(caPEM.utf8).base64EncodedString())
        - name: c2
          cluster:
            server: https://198.51.100.1:6443
            insecure-skip-tls-verify: true
        users:
        - name: u1
          user:
            token: abc
        - name: u2
          user:
            tokenFile: token.txt
        contexts:
        - name: one
          context: {cluster: c1, user: u1, namespace: kube-system}
        - name: two
          context: {cluster: c2, user: u2}
        """)

    @Test func currentContext() throws {
        let c = try KubeConfig.parse(Self.standard, path: "/k", baseDirectory: "/etc/k")
        #expect(c.server == "https://192.0.2.10:6443")
        #expect(c.certificateAuthorityPEM == Array(Self.caPEM.utf8))
        #expect(c.credentials == .token("abc"))
        #expect(c.namespace == "kube-system")
        #expect(!c.insecureSkipTLSVerify)
    }

    @Test func namedContextResolvesRelativeTokenFileAndHonoursInsecureOnlyWhenWritten() throws {
        let c = try KubeConfig.parse(Self.standard, path: "/k", baseDirectory: "/etc/k", context: "two")
        #expect(c.credentials == .tokenFile("/etc/k/token.txt"))
        #expect(c.insecureSkipTLSVerify)
        #expect(c.namespace == "default")
    }

    @Test(
        "errors name the file and the field",
        arguments: [
            ("kind: Config", "no current-context"),
            ("", "not a YAML mapping"),
            ("current-context: nope\ncontexts: []\nclusters: []", "contexts has no entry named \"nope\""),
            (
                "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: c\n  cluster: {server: 'not a url'}",
                "field server is missing or not a URL"
            ),
            (
                "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: c\n  cluster: {server: 'https://192.0.2.1', certificate-authority-data: '%%%'}",
                "certificate-authority-data is not valid base64"
            ),
            (
                "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: c\n  cluster: {server: 'https://192.0.2.1', certificate-authority: /nonexistent/ca.crt}",
                "certificate-authority names /nonexistent/ca.crt"
            ),
            (
                "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://192.0.2.1'}\nusers:\n- name: u\n  user: {client-certificate-data: 'QUJD'}",
                "must be given together"
            ),
            (
                "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://192.0.2.1'}\nusers:\n- name: u\n  user: {exec: {command: foo}}",
                "exec and auth-provider"
            ),
            ("[1, 2", "invalid YAML"),
            (
                "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: c\n  cluster: {server: 'https://192.0.2.1', insecure-skip-tls-verify: maybe}",
                "insecure-skip-tls-verify is \"maybe\"; use true or false"
            ),
        ])
    func errors(body: String, expected: String) {
        #expect {
            try KubeConfig.parse(body, path: "/etc/kube/config", baseDirectory: "/etc/kube")
        } throws: { error in
            let e = error as! KubeError
            return e.code == .configuration && e.message.contains("/etc/kube/config") && e.message.contains(expected)
        }
    }

    /// Scalars are read as written: a token of digits is still a token, not a number that is dropped.
    @Test func numericLookingTokenStaysAString() throws {
        let body =
            "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://192.0.2.1'}\nusers:\n- name: u\n  user: {token: 0123456789}"
        #expect(try KubeConfig.parse(body, path: "/k", baseDirectory: "/etc/k").credentials == .token("0123456789"))
    }

    @Test func inClusterFailsClosedWithoutCA() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sa-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["KUBERNETES_SERVICE_HOST": "2001:db8::1", "KUBERNETES_SERVICE_PORT": "443"]
        try "tok\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        #expect { try ClientConfiguration.inCluster(environment: env, directory: dir) } throws: {
            ($0 as! KubeError).message.contains("ca.crt is missing")
        }
        try Self.caPEM.write(toFile: dir + "/ca.crt", atomically: true, encoding: .utf8)
        try "kube-system".write(toFile: dir + "/namespace", atomically: true, encoding: .utf8)
        let c = try ClientConfiguration.inCluster(environment: env, directory: dir)
        #expect(c.server == "https://[2001:db8::1]:443")
        #expect(c.credentials == .tokenFile(dir + "/token"))
        #expect(c.namespace == "kube-system")
        #expect { try ClientConfiguration.inCluster(environment: [:], directory: dir) } throws: {
            ($0 as! KubeError).message.contains("pass --kubeconfig")
        }
    }

    @Test func tokenFileIsReReadOnRotation() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "first".write(toFile: path, atomically: true, encoding: .utf8)
        let clock = ManualClock()
        let source = TokenSource(.tokenFile(path), clock: clock)
        #expect(try await source.token() == "first")
        try "second".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try await source.token() == "first", "read at most once a minute")
        #expect(try await source.token(forceReload: true) == "second", "after a 401")
        try "third".write(toFile: path, atomically: true, encoding: .utf8)
        clock.advance(by: .seconds(59))
        #expect(try await source.token() == "second")
        clock.advance(by: .seconds(1))
        #expect(try await source.token() == "third", "a rotated token is read within the minute")
    }
}
