import Foundation
import InMemoryAPI
import Synchronization
import Testing

@testable import KubeClient

/// The in-memory server behaves as the real one does where the product depends on it; the same
/// behaviours are checked against kube-apiserver in the integration suites.
@Suite("In-memory API server")
struct InMemoryAPIServerTests {
    let api = InMemoryAPIServer()

    private func configMap(_ name: String, _ data: [String: String] = [:]) -> ConfigMap {
        ConfigMap(name: name, namespace: "ns", data: data)
    }

    @Test func createStampsIdentityAndRefusesADuplicate() async throws {
        let created = try await api.create(configMap("a", ["k": "v"]))
        #expect(created.metadata.uid?.isEmpty == false)
        #expect(created.metadata.resourceVersion == "1")
        #expect(created.metadata.creationTimestamp != nil)
        #expect(try await api.get(ConfigMap.self, namespace: "ns", name: "a").data == ["k": "v"])
        await #expect(throws: KubeError.self) { _ = try await api.create(configMap("a")) }
        do {
            _ = try await api.create(configMap("a"))
        } catch {
            #expect(error.code == .alreadyExists)
        }
        do {
            _ = try await api.get(ConfigMap.self, namespace: "ns", name: "missing")
            Issue.record("a missing object was found")
        } catch {
            #expect(error.code == .notFound)
            #expect(error.httpStatus == 404)
        }
    }

    @Test func aStaleUpdateIsAConflictAndGenerationFollowsTheSpec() async throws {
        var service = Service()
        service.metadata = ObjectMeta(name: "web", namespace: "ns")
        service.spec.type = .loadBalancer
        let created = try await api.create(service)
        var edited = created
        edited.spec.loadBalancerIP = "192.0.2.10"
        let updated = try await api.update(edited)
        #expect(updated.metadata.generation == 2)
        #expect(Int(updated.metadata.resourceVersion ?? "")! > Int(created.metadata.resourceVersion ?? "")!)
        do {
            _ = try await api.update(edited)  // still carries the old resourceVersion
            Issue.record("a stale update was accepted")
        } catch {
            #expect(error.code == .conflict)
        }
        var relabelled = updated
        relabelled.metadata.labels = ["a": "b"]
        #expect(try await api.update(relabelled).metadata.generation == 2, "metadata alone keeps the generation")
    }

    @Test func mergePatchRemovesWithNullAndChecksAResourceVersionInTheBody() async throws {
        let created = try await api.create(configMap("a", ["keep": "1", "drop": "2"]))
        let patched: ConfigMap = try await api.patch(
            ConfigMap.self, namespace: "ns", name: "a", .merge(["data": ["drop": nil, "new": "3"]]))
        #expect(patched.data == ["keep": "1", "new": "3"])
        do {
            _ = try await api.patch(
                ConfigMap.self, namespace: "ns", name: "a",
                .finalizers(["x"], resourceVersion: created.metadata.resourceVersion))
            Issue.record("a patch with a stale resourceVersion was accepted")
        } catch {
            #expect(error.code == .conflict)
        }
        let unchanged: ConfigMap = try await api.patch(
            ConfigMap.self, namespace: "ns", name: "a", .merge(["data": ["keep": "1"]]))
        #expect(unchanged.metadata.resourceVersion == patched.metadata.resourceVersion, "a no-op keeps the version")
    }

    @Test func statusIsWrittenOnlyThroughTheSubresource() async throws {
        var service = Service()
        service.metadata = ObjectMeta(name: "web", namespace: "ns")
        service.spec.type = .loadBalancer
        service.spec.loadBalancerClass = "example.com/lb"
        service.status.loadBalancer.ingress = [LoadBalancerIngress(ip: "192.0.2.1", ipMode: .vip)]
        let created = try await api.create(service)
        #expect(created.status.loadBalancer.ingress.isEmpty, "create drops a Service's status")
        #expect(created.spec.loadBalancerClass == "example.com/lb", "nothing is dropped as v1.20 does")
        #expect(created.spec.ipFamilies == ["IPv4"] && created.spec.ipFamilyPolicy == .singleStack)

        let withStatus: Service = try await api.patchStatus(
            Service.self, namespace: "ns", name: "web",
            ["loadBalancer": ["ingress": [["ip": "192.0.2.1", "ipMode": "VIP"]]]])
        #expect(withStatus.status.loadBalancer.ingress.first?.ipMode == .vip)
        #expect(withStatus.metadata.generation == 1)

        var overwrite = withStatus
        overwrite.status.loadBalancer.ingress = []
        overwrite.spec.loadBalancerIP = "192.0.2.2"
        let updated = try await api.update(overwrite)
        #expect(updated.status.loadBalancer.ingress.map(\.ip) == ["192.0.2.1"], "the main resource keeps status")
        var statusOnly = updated
        statusOnly.spec.loadBalancerIP = "192.0.2.3"
        statusOnly.status.loadBalancer.ingress = []
        let afterStatus = try await api.updateStatus(statusOnly)
        #expect(afterStatus.spec.loadBalancerIP == "192.0.2.2", "/status keeps the spec")
        #expect(afterStatus.status.loadBalancer.ingress.isEmpty)
    }

    @Test func finalizersHoldADeletionUntilTheLastOneGoes() async throws {
        var held = configMap("held")
        held.metadata.finalizers = ["example.com/a"]
        let created = try await api.create(held)
        try await api.delete(ConfigMap.self, namespace: "ns", name: "held")
        let marked = try await api.get(ConfigMap.self, namespace: "ns", name: "held")
        #expect(marked.metadata.deletionTimestamp != nil)
        do {
            _ = try await api.patch(
                ConfigMap.self, namespace: "ns", name: "held",
                .finalizers(["example.com/a", "example.com/b"], resourceVersion: marked.metadata.resourceVersion))
            Issue.record("a finalizer was added to an object being deleted")
        } catch {
            #expect(error.code == .invalid)
        }
        do {
            try await api.delete(ConfigMap.self, namespace: "ns", name: "held", uid: "other", resourceVersion: nil)
            Issue.record("a delete with the wrong uid was accepted")
        } catch {
            #expect(error.code == .conflict)
        }
        _ = try await api.patch(
            ConfigMap.self, namespace: "ns", name: "held", .finalizers([], resourceVersion: nil))
        await #expect(throws: KubeError.self) { _ = try await api.get(ConfigMap.self, namespace: "ns", name: "held") }
        #expect(created.metadata.uid != nil)
    }

    @Test func listsPageAndSelect() async throws {
        for index in 0..<5 {
            var object = configMap("cm-\(index)")
            object.metadata.labels = ["parity": index % 2 == 0 ? "even" : "odd"]
            _ = try await api.create(object)
        }
        _ = try await api.create(ConfigMap(name: "elsewhere", namespace: "other"))
        let all = try await api.listAll(ConfigMap.self, namespace: "ns", pageSize: 2)
        #expect(all.items.compactMap(\.metadata.name) == ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"])
        let even = try await api.listAll(ConfigMap.self, options: ListOptions(labelSelector: "parity=even"))
        #expect(even.items.count == 3)
        let named = try await api.list(ConfigMap.self, options: ListOptions(fieldSelector: "metadata.name=elsewhere"))
        #expect(named.items.map(\.metadata.namespace) == ["other"])
        let notIn = try await api.list(ConfigMap.self, options: ListOptions(labelSelector: "parity notin (even)"))
        #expect(notIn.items.count == 3, "two odd ones and the unlabelled one")
    }

    @Test func watchesReplayFromAVersionSendBookmarksAndExpire() async throws {
        _ = try await api.create(configMap("before"))
        let listed = try await api.list(ConfigMap.self, namespace: "ns")
        _ = try await api.create(configMap("after"))
        try await api.delete(ConfigMap.self, namespace: "ns", name: "before")
        var iterator = api.watch(
            ConfigMap.self, namespace: "ns", options: WatchOptions(resourceVersion: listed.resourceVersion)
        ).makeAsyncIterator()
        guard case .added(let added)? = try await iterator.next(),
            case .deleted(let deleted)? = try await iterator.next()
        else {
            Issue.record("the watch did not replay ADDED then DELETED")
            return
        }
        #expect(added.metadata.name == "after" && deleted.metadata.name == "before")
        api.sendBookmarks()
        guard case .bookmark(let version)? = try await iterator.next() else {
            Issue.record("no bookmark")
            return
        }
        #expect(version == api.resourceVersion)

        api.expireWatches()
        do {
            _ = try await iterator.next()
            Issue.record("an expired watch did not end with 410")
        } catch let error as KubeError {
            #expect(error.code == .gone)
        }
        var stale = api.watch(ConfigMap.self, options: WatchOptions(resourceVersion: listed.resourceVersion))
            .makeAsyncIterator()
        await #expect(throws: KubeError.self) { _ = try await stale.next() }
    }

    @Test func anInformerRelistsAfter410AndSynthesisesWhatItMissed() async throws {
        for name in ["keep", "change", "remove"] { _ = try await api.create(configMap(name, ["v": "0"])) }
        let informer = Informer<ConfigMap>(
            client: api, namespace: "ns", initialBackoff: .milliseconds(1), clock: ContinuousClock())
        let (events, sink) = AsyncStream.makeStream(of: String.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await informer.run { event in
                    switch event {
                    case .added(let cm): sink.yield("added \(cm.metadata.name!)")
                    case .updated(_, let cm): sink.yield("updated \(cm.metadata.name!) \(cm.data["v"] ?? "")")
                    case .deleted(let cm): sink.yield("deleted \(cm.metadata.name!)")
                    case .synced: sink.yield("synced")
                    }
                }
            }
            var seen: [String] = []
            var iterator = events.makeAsyncIterator()
            while let event = await iterator.next(), event != "synced" { seen.append(event) }
            #expect(seen.sorted() == ["added change", "added keep", "added remove"])

            // Changes while the watch is gone, then 410: the relist must bring every one of them.
            api.expireWatches()
            try await api.delete(ConfigMap.self, namespace: "ns", name: "remove")
            var change = try await api.get(ConfigMap.self, namespace: "ns", name: "change")
            change.data = ["v": "1"]
            _ = try await api.update(change)
            seen = []
            while seen.count < 2, let event = await iterator.next() { seen.append(event) }
            #expect(Set(seen) == ["deleted remove", "updated change 1"])
            #expect(await informer.relists >= 2)
            group.cancelAll()
        }
    }

    /// Keeping only versions, the events still carry whole objects (from the list, the watch and the server's
    /// deletion); only reads and an update's old side are skeletons.
    @Test func anInformerKeepingVersionsStillDeliversWholeObjects() async throws {
        for name in ["keep", "change", "remove"] { _ = try await api.create(configMap(name, ["v": "0"])) }
        let informer = Informer<ConfigMap>(
            client: api, namespace: "ns", initialBackoff: .milliseconds(1), storage: .versions,
            clock: ContinuousClock())
        let (events, sink) = AsyncStream.makeStream(of: String.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await informer.run { event in
                    switch event {
                    case .added(let cm): sink.yield("added \(cm.metadata.name!) \(cm.data["v"] ?? "-")")
                    case .updated(let old, let cm):
                        sink.yield("updated \(cm.metadata.name!) \(old.data["v"] ?? "-")→\(cm.data["v"] ?? "-")")
                    case .deleted(let cm): sink.yield("deleted \(cm.metadata.name!) \(cm.data["v"] ?? "-")")
                    case .synced: sink.yield("synced")
                    }
                }
            }
            var seen: [String] = []
            var iterator = events.makeAsyncIterator()
            while let event = await iterator.next(), event != "synced" { seen.append(event) }
            #expect(seen.sorted() == ["added change 0", "added keep 0", "added remove 0"])
            let cached = try #require(await informer.get(ObjectKey(namespace: "ns", name: "keep")))
            #expect(cached.data.isEmpty && cached.metadata.resourceVersion != nil, "a skeleton: name and version")

            var change = try await api.get(ConfigMap.self, namespace: "ns", name: "change")
            change.data = ["v": "1"]
            _ = try await api.update(change)
            let updated = await iterator.next()
            #expect(updated == "updated change -→1")
            try await api.delete(ConfigMap.self, namespace: "ns", name: "remove")
            let deleted = await iterator.next()
            #expect(deleted == "deleted remove 0", "the server's copy of the deleted object")

            // Missed while the watch is gone: the relist tells the change whole, the deletion by name.
            api.expireWatches()
            try await api.delete(ConfigMap.self, namespace: "ns", name: "keep")
            change.data = ["v": "2"]
            change.metadata.resourceVersion = nil
            _ = try await api.update(change)
            seen = []
            while seen.count < 2, let event = await iterator.next() { seen.append(event) }
            #expect(Set(seen) == ["deleted keep -", "updated change -→2"])
            #expect(await informer.count == 1)
            group.cancelAll()
        }
    }

    @Test func injectedFaultsFailTheNamedRequestsOnly() async throws {
        api.failNext(.create, ConfigMap.self, with: KubeError(.server, "etcdserver: request timed out"), times: 2)
        await #expect(throws: KubeError.self) { _ = try await api.create(configMap("a")) }
        await #expect(throws: KubeError.self) { _ = try await api.create(configMap("a")) }
        _ = try await api.create(configMap("a"))
        #expect(api.count(.create, ConfigMap.self) == 3)
    }

    @Test func aHookRunsBetweenAWritesCommitAndItsAnswer() async throws {
        _ = try await api.create(configMap("a", ["v": "1"]))
        let api = self.api
        let seen = Mutex<[String: String]?>(nil)
        api.afterNext(.patch, ConfigMap.self) {
            // Committed already: a reader sees the new data before the writer has its answer.
            let now = try? await api.get(ConfigMap.self, namespace: "ns", name: "a").data
            seen.withLock { $0 = now }
            _ = try? await api.patch(ConfigMap.self, namespace: "ns", name: "a", .merge(["data": ["other": "x"]]))
        }
        let answer: ConfigMap = try await api.patch(
            ConfigMap.self, namespace: "ns", name: "a", .merge(["data": ["v": "2"]]))
        #expect(seen.withLock { $0 } == ["v": "2"])
        #expect(answer.data == ["v": "2"], "the answer is the object as the write left it")
        #expect(try await api.get(ConfigMap.self, namespace: "ns", name: "a").data == ["v": "2", "other": "x"])
    }
}
