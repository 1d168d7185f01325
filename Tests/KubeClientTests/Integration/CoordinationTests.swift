import Foundation
import InMemoryAPI
import KubeClient
import Synchronization
import TestLab
import TestTraits
import Testing

@Suite("Leases and events against kube-apiserver", .integration, .tags(.integration))
struct CoordinationTests {
    final class Flag: Sendable {
        private let value = Mutex(0)
        func increment() { value.withLock { $0 += 1 } }
        func decrement() { value.withLock { $0 -= 1 } }
        var current: Int { value.withLock { $0 } }
    }

    static func fast(_ name: String, _ identity: String, ns: String) -> LeaderElector.Configuration {
        .init(
            leaseName: name, namespace: ns, identity: identity, leaseDuration: .seconds(4), renewDeadline: .seconds(3),
            retryPeriod: .milliseconds(400))
    }

    @Test func exactlyOneLeaderAndTakeoverWhenTheLeaderStopsRenewing() async throws {
        let cluster = try await TestEnvironment.shared()
        let admin = try cluster.adminClient()
        let proxy = try TCPProxy(targetPort: cluster.apiPort)
        let partitionable = try cluster.adminClient(throughPort: proxy.port)
        let outcome = await Result {
            let ns = try await cluster.makeNamespace(admin)
            let leaders = Flag()
            let a = LeaderElector(client: partitionable, configuration: Self.fast("ctl", "a", ns: ns))
            let b = LeaderElector(client: admin, configuration: Self.fast("ctl", "b", ns: ns))
            let body: @Sendable () async throws -> Void = {
                leaders.increment()
                defer { leaders.decrement() }
                try await Task.sleep(for: .seconds(3600))
            }
            let runA = Task { try await a.run(whileLeading: body) }
            // A leads first (the one a proxy can cut off); a busy machine may need a while.
            let started = ContinuousClock.now
            while !(await a.isLeader), ContinuousClock.now - started < .seconds(60) {
                try await Task.sleep(for: .milliseconds(50))
            }
            // Without it the rest tests nothing: say so, not "B leads" further down.
            try #require(await a.isLeader, "A did not win the free lease within 60 s through the proxy")
            let runB = Task { try await b.run(whileLeading: body) }
            defer {
                runA.cancel()
                runB.cancel()
            }
            try await Task.sleep(for: .seconds(2))
            #expect(leaders.current == 1)
            let aLeads = await a.isLeader
            let bLeads = await b.isLeader
            #expect(aLeads && !bLeads)

            // A can no longer reach the server: it must step down, and B must take over.
            proxy.partition()
            let lost = await runA.result
            #expect(throws: KubeError.self) { try lost.get() }
            var waited = Duration.zero
            while !(await b.isLeader), waited < .seconds(20) {
                try await Task.sleep(for: .milliseconds(100))
                waited += .milliseconds(100)
            }
            #expect(await b.isLeader)
            // isLeader turns true as the lease is won; B's body starts a moment later in its own task.
            #expect(await eventually(.seconds(5)) { leaders.current == 1 })
            let lease = try await admin.get(Lease.self, namespace: ns, name: "ctl")
            #expect(lease.spec.holderIdentity == "b")
            #expect(lease.spec.leaseTransitions == 1)
        }
        // Awaited, whether the body passed or threw: a task started from a `defer` would outlive the test.
        await proxy.stop()
        try? await admin.shutdown()
        try? await partitionable.shutdown()
        try outcome.get()
    }

    @Test func cancelledLeaderReleasesSoAStandbyTakesOverAtOnce() async throws {
        let cluster = try await TestEnvironment.shared()
        try await withClient(try cluster.adminClient()) { client in
            let ns = try await cluster.makeNamespace(client)
            var slow = Self.fast("rel", "a", ns: ns)
            slow.leaseDuration = .seconds(60)
            let a = LeaderElector(client: client, configuration: slow)
            var slowB = slow
            slowB.identity = "b"
            let b = LeaderElector(client: client, configuration: slowB)
            let runA = Task { try await a.run { try await Task.sleep(for: .seconds(3600)) } }
            while !(await a.isLeader) { try await Task.sleep(for: .milliseconds(50)) }
            let runB = Task { try await b.run { try await Task.sleep(for: .seconds(3600)) } }
            defer { runB.cancel() }
            runA.cancel()
            _ = await runA.result
            let start = ContinuousClock.now
            while !(await b.isLeader), ContinuousClock.now - start < .seconds(20) {
                try await Task.sleep(for: .milliseconds(50))
            }
            // Without the release B would wait the full 60 s lease.
            #expect(await b.isLeader)
        }
    }

    @Test func repeatedEventsAreAggregated() async throws {
        let cluster = try await TestEnvironment.shared()
        try await withClient(try cluster.adminClient()) { client in
            let ns = try await cluster.makeNamespace(client)
            let service = try await client.create(CRUDTests.loadBalancer("noisy", namespace: ns))
            let recorder = EventRecorder(
                client: client, component: "keepalived-cloud-provider", minimumWriteInterval: .zero)
            for _ in 0..<5 {
                await recorder.record(
                    service.reference, type: .warning, reason: "AllocationFailed",
                    message: "pool default has no free IPv4 address left")
            }
            await recorder.record(
                service.reference, type: .normal, reason: "EnsuredLoadBalancer", message: "Ensured load balancer")
            let events = try await client.list(Event.self, namespace: ns).items
            #expect(events.count == 2)
            let warning = try #require(events.first { $0.reason == "AllocationFailed" })
            #expect(warning.count == 5)
            #expect(warning.type == "Warning")
            #expect(warning.involvedObject.name == "noisy")
            #expect(warning.involvedObject.uid == service.metadata.uid)
            #expect(warning.sourceComponent == "keepalived-cloud-provider")
        }
    }

    /// Posted events wait while the owner is busy, then arrive with the time they were posted.
    @Test func postedEventsGiveWayWhileTheOwnerIsBusy() async throws {
        let cluster = try await TestEnvironment.shared()
        try await withClient(try cluster.adminClient()) { client in
            let ns = try await cluster.makeNamespace(client)
            let service = try await client.create(CRUDTests.loadBalancer("patient", namespace: ns))
            let busy = BusySignal()
            busy.update(outstanding: 1)
            let recorder = EventRecorder(
                client: client, component: "keepalived-cloud-provider", yieldingTo: busy, maximumDeferral: .seconds(120)
            )
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await recorder.run() }
                let posted = Date()
                recorder.post(
                    service.reference, type: .normal, reason: "EnsuringLoadBalancer", message: "Ensuring load balancer")
                // Held for three seconds: long enough to tell the posting time from the writing time.
                try await Task.sleep(for: .seconds(3))
                #expect(try await client.list(Event.self, namespace: ns).items.isEmpty)
                busy.update(outstanding: 0)
                var events: [Event] = []
                #expect(
                    try await eventually {
                        events = try await client.list(Event.self, namespace: ns).items
                        return events.count == 1
                    })
                let written = try #require(events.first?.firstTimestamp.flatMap(KubeTime.parse))
                #expect(abs(written.timeIntervalSince(posted)) < 2)
                group.cancelAll()
            }
        }
    }
}
