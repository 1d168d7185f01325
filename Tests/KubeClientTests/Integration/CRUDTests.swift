import Foundation
import KubeClient
import TestLab
import TestTraits
import Testing

/// Verbs against a real kube-apiserver (scripts/testenv).
@Suite("API verbs against kube-apiserver", .integration, .tags(.integration))
struct CRUDTests {
    static func loadBalancer(_ name: String, namespace: String) -> Service {
        var service = Service()
        service.metadata = ObjectMeta(name: name, namespace: namespace)
        service.spec.type = .loadBalancer
        service.spec.ports = [ServicePort(name: "http", port: 8080, targetPort: 8080)]
        service.spec.selector = ["app": name]
        return service
    }

    @Test func serviceLifecycleWithStatusAndPatches() async throws {
        let cluster = try await TestEnvironment.shared()
        try await withClient(try cluster.adminClient()) { client in
            let ns = try await cluster.makeNamespace(client)

            var created = try await client.create(Self.loadBalancer("hello-world", namespace: ns))
            #expect(created.metadata.uid != nil)
            #expect(created.spec.clusterIP?.hasPrefix("10.96.") == true)
            #expect(created.spec.ports.first?.nodePort != nil)
            // A field this client does not model must survive a typed read-modify-write.
            created.json["spec"] = .object(created.spec.json.merging(["sessionAffinity": "ClientIP"]) { $1 })
            created = try await client.update(created)
            created.metadata.finalizers = ["service.kubernetes.io/load-balancer-cleanup"]
            let updated = try await client.update(created)
            #expect(updated.metadata.finalizers == ["service.kubernetes.io/load-balancer-cleanup"])
            #expect(updated.spec.json["sessionAffinity"] == "ClientIP")

            // Status subresource: PUT and merge-PATCH both land; spec edits through /status are ignored.
            var withStatus = updated
            withStatus.status.loadBalancer.ingress = [LoadBalancerIngress(ip: "203.0.113.10")]
            withStatus.spec.type = .nodePort
            let statusWritten = try await client.updateStatus(withStatus)
            #expect(statusWritten.status.loadBalancer.ingress.map(\.ip) == ["203.0.113.10"])
            #expect(statusWritten.spec.type == .loadBalancer)
            let patched = try await client.patch(
                Service.self, namespace: ns, name: "hello-world",
                .merge(["status": ["loadBalancer": ["ingress": [["ip": "203.0.113.11"]]]]]), subresource: "status")
            #expect(patched.status.loadBalancer.ingress.map(\.ip) == ["203.0.113.11"])

            // Strategic merge adds a port next to the existing one (merged by port number).
            let smp = try await client.patch(
                Service.self, namespace: ns, name: "hello-world",
                .strategicMerge(["spec": ["ports": [["name": "https", "port": 8443, "protocol": "TCP"]]]]))
            #expect(Set(smp.spec.ports.compactMap(\.port)) == [8080, 8443])

            // A stale resourceVersion is a typed conflict, not a silent overwrite.
            var stale = updated
            stale.metadata.labels = ["x": "y"]
            await #expect { try await client.update(stale) } throws: {
                ($0 as! KubeError).code == .conflict && ($0 as! KubeError).status?.reason == "Conflict"
            }

            await #expect { try await client.create(Self.loadBalancer("hello-world", namespace: ns)) } throws: {
                ($0 as! KubeError).code == .alreadyExists
            }

            // Finalizer holds deletion until removed.
            try await client.delete(Service.self, namespace: ns, name: "hello-world")
            let terminating = try await client.get(Service.self, namespace: ns, name: "hello-world")
            #expect(terminating.metadata.deletionTimestamp != nil)
            _ = try await client.patch(
                Service.self, namespace: ns, name: "hello-world",
                .json([["op": "remove", "path": "/metadata/finalizers"]]))
            await #expect { try await client.get(Service.self, namespace: ns, name: "hello-world") } throws: { error in
                let e = error as! KubeError
                return e.code == .notFound && e.httpStatus == 404 && e.status?.reason == "NotFound"
            }
        }
    }

    @Test func configMapsPaginationSelectorsAndPreconditions() async throws {
        let cluster = try await TestEnvironment.shared()
        try await withClient(try cluster.adminClient()) { client in
            let ns = try await cluster.makeNamespace(client)
            for index in 0..<7 {
                var cm = ConfigMap(
                    name: "cm-\(index)", namespace: ns, data: ["10.210.1.\(65 + index)": "\(ns)/svc-\(index)"])
                cm.metadata.labels = ["parity": index % 2 == 0 ? "even" : "odd"]
                _ = try await client.create(cm)
            }
            let page = try await client.list(ConfigMap.self, namespace: ns, options: ListOptions(limit: 3))
            #expect(page.items.count == 3)
            #expect(page.continueToken != nil)
            let all = try await client.listAll(ConfigMap.self, namespace: ns, pageSize: 3)
            #expect(all.items.map { $0.metadata.name ?? "" }.sorted() == (0..<7).map { "cm-\($0)" })
            #expect(all.continueToken == nil && !all.resourceVersion.isEmpty)
            let even = try await client.listAll(
                ConfigMap.self, namespace: ns, options: ListOptions(labelSelector: "parity=even"))
            #expect(even.items.count == 4)
            let one = try await client.list(
                ConfigMap.self, namespace: ns, options: ListOptions(fieldSelector: "metadata.name=cm-3"))
            #expect(one.items.map(\.data) == [["10.210.1.68": "\(ns)/svc-3"]])

            let jsonPatched = try await client.patch(
                ConfigMap.self, namespace: ns, name: "cm-0",
                .json([["op": "add", "path": "/data/10.210.1.99", "value": .string("\(ns)/extra:DR")]]))
            #expect(jsonPatched.data["10.210.1.99"] == "\(ns)/extra:DR")

            await #expect {
                try await client.delete(ConfigMap.self, namespace: ns, name: "cm-1", uid: "not-the-uid")
            } throws: { ($0 as! KubeError).code == .conflict }
            try await client.delete(
                ConfigMap.self, namespace: ns, name: "cm-1",
                uid: all.items.first { $0.metadata.name == "cm-1" }?.metadata.uid)
            await #expect { try await client.delete(ConfigMap.self, namespace: ns, name: "cm-1") } throws: {
                ($0 as! KubeError).code == .notFound
            }
        }
    }

    /// More requests in flight than the server's HTTP/2 stream limit must queue, not hang.
    @Test func hundredsOfConcurrentRequestsOnOneClientAllComplete() async throws {
        let cluster = try await TestEnvironment.shared()
        try await withClient(try cluster.adminClient()) { client in
            let ns = try await cluster.makeNamespace(client)
            _ = try await client.create(ConfigMap(name: "c", namespace: ns, data: ["k": "v"]))
            let completed = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<300 {
                    group.addTask {
                        if index % 2 == 0 {
                            _ = try await client.get(ConfigMap.self, namespace: ns, name: "c")
                        } else {
                            _ = try await client.patch(
                                ConfigMap.self, namespace: ns, name: "c",
                                .merge(["data": ["k\(index)": .string("\(index)")]]))
                        }
                        return 1
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(completed == 300)
            #expect(try await client.get(ConfigMap.self, namespace: ns, name: "c").data.count == 151)
        }
    }

    @Test func nonAdminIdentityGetsTypedForbidden() async throws {
        let cluster = try await TestEnvironment.shared()
        try await withClient(try cluster.controllerClient()) { client in
            await #expect { try await client.list(Service.self, namespace: "default") } throws: { error in
                let e = error as! KubeError
                return e.code == .forbidden && e.httpStatus == 403 && e.message.contains("klb-controller")
            }
        }
    }

    @Test func wrongCertificateAuthorityIsAnErrorNotAnInsecureRetry() async throws {
        let cluster = try await TestEnvironment.shared()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ca-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/k.pem", "-out", dir + "/ca.pem",
            "-days", "1", "-subj", "/CN=not-the-cluster-ca", "-addext", "subjectAltName=IP:127.0.0.1",
        ]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        var configuration = try KubeConfig.load(path: cluster.adminKubeconfig)
        configuration.certificateAuthorityPEM = Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/ca.pem")))
        try await withClient(try KubernetesClient(configuration: configuration)) { client in
            await #expect { try await client.list(Namespace.self) } throws: { error in
                let e = error as! KubeError
                return e.code == .transport && e.httpStatus == nil && e.message.contains("TLS")
            }
        }
    }
}
