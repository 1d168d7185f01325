import Foundation
import InMemoryAPI
import KubeClient
import TestLab
import TestTraits
import Testing

@Suite("Watch against kube-apiserver", .integration, .tags(.integration))
struct WatchTests {
    @Test func watchSeesCreateUpdateDeleteInOrder() async throws {
        let cluster = try await TestEnvironment.shared()
        try await withClient(try cluster.adminClient()) { client in
            let ns = try await cluster.makeNamespace(client)
            let start = try await client.list(ConfigMap.self, namespace: ns)

            let watcher = Task { () -> [String] in
                var seen: [String] = []
                for try await event in client.watch(
                    ConfigMap.self, namespace: ns,
                    options: WatchOptions(resourceVersion: start.resourceVersion, timeoutSeconds: 30))
                {
                    switch event {
                    case .added(let cm): seen.append("ADDED \(cm.metadata.name!) \(cm.data["k"] ?? "")")
                    case .modified(let cm): seen.append("MODIFIED \(cm.metadata.name!) \(cm.data["k"] ?? "")")
                    case .deleted(let cm): seen.append("DELETED \(cm.metadata.name!)")
                    case .bookmark: continue
                    }
                    if seen.count == 4 { break }
                }
                return seen
            }
            var cm = try await client.create(ConfigMap(name: "a", namespace: ns, data: ["k": "1"]))
            cm.data = ["k": "2"]
            _ = try await client.update(cm)
            _ = try await client.create(ConfigMap(name: "b", namespace: ns, data: ["k": "3"]))
            try await client.delete(ConfigMap.self, namespace: ns, name: "a")
            let seen = try await watcher.value
            #expect(seen == ["ADDED a 1", "MODIFIED a 2", "ADDED b 3", "DELETED a"])
        }
    }

    /// The compact cache keeps what a controller of many Services reads and nothing else, and
    /// follows changes like the object cache does.
    @Test func compactInformerKeepsOnlyWhatItWasAskedFor() async throws {
        let cluster = try await TestEnvironment.shared()
        try await withClient(try cluster.adminClient()) { client in
            let ns = try await cluster.makeNamespace(client)
            var service = Service()
            service.metadata = ObjectMeta(name: "web", namespace: ns)
            service.metadata.labels = ["app": "web"]
            service.metadata.annotations = ["keep.example/this": "yes", "drop.example/that": "no"]
            service.spec.type = .loadBalancer
            service.spec.ports = [ServicePort(port: 80)]
            service.spec.allocateLoadBalancerNodePorts = false
            _ = try await client.create(service)

            let informer = Informer<Service>(
                client: client, namespace: ns, storage: .packed,
                transform: { $0.keeping(specFields: ["type"], annotations: ["keep.example/this"]) },
                clock: ContinuousClock())
            let run = Task { await informer.run { _ in } }
            defer { run.cancel() }
            #expect(await eventually { await informer.get(ObjectKey(namespace: ns, name: "web")) != nil })
            let cached = try #require(await informer.get(ObjectKey(namespace: ns, name: "web")))
            #expect(cached.metadata.annotations == ["keep.example/this": "yes"])
            #expect(cached.metadata.labels.isEmpty)
            #expect(
                cached.metadata.uid != nil && cached.metadata.resourceVersion != nil
                    && cached.metadata.creationTimestamp != nil)
            #expect(cached.spec.type == .loadBalancer && cached.spec.ports.isEmpty)

            _ = try await client.patch(
                Service.self, namespace: ns, name: "web",
                .merge(["status": ["loadBalancer": ["ingress": [["ip": "192.0.2.10"]]]]]), subresource: "status")
            #expect(
                await eventually {
                    await informer.get(ObjectKey(namespace: ns, name: "web"))?.status.loadBalancer.ingress.first?.ip
                        == "192.0.2.10"
                })
            try await client.delete(Service.self, namespace: ns, name: "web")
            #expect(await eventually { await informer.get(ObjectKey(namespace: ns, name: "web")) == nil })
        }
    }

    /// A watch that starts with megabytes of ADDED events and a consumer slower than the server
    /// must deliver every event (the stream is paused by back-pressure, never stalled by it).
    @Test func aSlowConsumerOfALargeWatchGetsEveryEvent() async throws {
        let cluster = try await TestEnvironment.shared()
        try await withClient(try cluster.adminClient()) { client in
            let ns = try await cluster.makeNamespace(client)
            let count = 120
            let payload = String(repeating: "x", count: 32 * 1024)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<count {
                    if index >= 8 { try await group.next() }
                    group.addTask {
                        _ = try await client.create(ConfigMap(name: "c\(index)", namespace: ns, data: ["k": payload]))
                    }
                }
                try await group.waitForAll()
            }
            let started = ContinuousClock.now
            var seen = 0
            for try await event in client.watch(
                ConfigMap.self, namespace: ns, options: WatchOptions(timeoutSeconds: 60))
            {
                guard case .added = event else { continue }
                seen += 1
                try await Task.sleep(for: .milliseconds(5))
                if seen == count { break }
            }
            #expect(seen == count)
            #expect(
                ContinuousClock.now - started < .seconds(45),
                "the watch stalled: \(seen) of \(count) after \(ContinuousClock.now - started)")
        }
    }
}

/// Restarts its own API server, so it gets a dedicated control plane.
@Suite("Informer recovery", .serialized, .integration, .tags(.integration))
struct InformerRecoveryTests {
    actor Recorder {
        var events: [String] = []
        var synced = false
        func add(_ event: InformerEvent<ConfigMap>) {
            switch event {
            case .added(let cm): events.append("added \(cm.metadata.name!)")
            case .updated(_, let cm): events.append("updated \(cm.metadata.name!) \(cm.data["v"] ?? "")")
            case .deleted(let cm): events.append("deleted \(cm.metadata.name!)")
            case .synced: synced = true
            }
        }
        func contains(_ s: String) -> Bool { events.contains(s) }
    }

    @Test func partitionAndAPIServerRestartRelistWithoutLosingAnEvent() async throws {
        let cluster = try await TestEnvironment.start(prefix: "informer")
        let proxy = try TCPProxy(targetPort: cluster.apiPort)
        let admin = try cluster.adminClient()
        let viaProxy = try cluster.adminClient(throughPort: proxy.port)
        let outcome = await Result {
            let ns = try await cluster.makeNamespace(admin)
            for name in ["keep", "change", "remove"] {
                _ = try await admin.create(ConfigMap(name: name, namespace: ns, data: ["v": "0"]))
            }

            let informer = Informer<ConfigMap>(
                client: viaProxy, namespace: ns, initialBackoff: .milliseconds(100), maximumBackoff: .milliseconds(500),
                clock: ContinuousClock())
            let recorder = Recorder()
            let running = Task { await informer.run { await recorder.add($0) } }
            defer { running.cancel() }
            #expect(await eventually(.seconds(30)) { await recorder.synced })
            #expect(await informer.count == 3)

            // Live changes arrive through the watch.
            _ = try await admin.create(ConfigMap(name: "live", namespace: ns))
            #expect(await eventually(.seconds(30)) { await recorder.contains("added live") })

            // Cut the informer off, change things behind its back, restart the API server so its
            // watch cache no longer reaches back to the informer's resourceVersion, then heal.
            proxy.partition()
            try await Task.sleep(for: .milliseconds(300))
            try await admin.delete(ConfigMap.self, namespace: ns, name: "remove")
            var change = try await admin.get(ConfigMap.self, namespace: ns, name: "change")
            change.data = ["v": "1"]
            _ = try await admin.update(change)
            _ = try await admin.create(ConfigMap(name: "new", namespace: ns))
            try await cluster.restartAPIServer()
            // The restarted server's watch cache starts now: an older resourceVersion is a typed 410.
            await #expect {
                for try await _ in admin.watch(
                    ConfigMap.self, namespace: ns, options: WatchOptions(resourceVersion: "1", timeoutSeconds: 10))
                {}
            } throws: { error in
                (error as! KubeError).code == .gone
            }
            proxy.heal()

            #expect(await eventually(.seconds(30)) { await recorder.contains("deleted remove") })
            #expect(await eventually(.seconds(30)) { await recorder.contains("updated change 1") })
            #expect(await eventually(.seconds(30)) { await recorder.contains("added new") })
            #expect(await informer.relists >= 2, "a 410 after the restart should force a relist")
            let names = await informer.list().compactMap(\.metadata.name).sorted()
            #expect(names == ["change", "keep", "live", "new"])

            // And it keeps watching afterwards.
            try await admin.delete(ConfigMap.self, namespace: ns, name: "keep")
            #expect(await eventually(.seconds(30)) { await recorder.contains("deleted keep") })
        }
        // Awaited, whether the body passed or threw: a task started from a `defer` would outlive the test.
        await proxy.stop()
        try? await admin.shutdown()
        try? await viaProxy.shutdown()
        await cluster.stop()
        try outcome.get()
    }
}
