import IPAM
import Keepalived
import KubeClient
import Testing

@testable import CloudProvider

/// The controller's decisions on values: no API server, no clock, no sleeps.
@Suite("Service state machine")
struct ServiceStateMachineTests {
    static func service(_ name: String, version: String = "10", finalizer: Bool = true) -> Service {
        var service = Service()
        service.metadata = ObjectMeta(name: name, namespace: "ns")
        service.metadata.uid = "uid-\(name)"
        service.metadata.resourceVersion = version
        if finalizer { service.metadata.finalizers = [ControllerConfiguration.finalizer] }
        service.spec.type = .loadBalancer
        service.spec.ipFamilies = ["IPv4"]
        return service
    }

    /// A machine whose ledger is restored and written.
    static func ready(width: Int = 64) throws -> ServiceStateMachine {
        var machine = ServiceStateMachine(
            configuration: ControllerConfiguration(pool: try Pool.parse(["192.0.2.0/28"]).pool), statusWidth: width)
        #expect(machine.handle(.nodesChanged(["node-1"])).isEmpty, "nothing is written before the restore")
        _ = machine.handle(.configMapWritten(generation: machine.generation, version: "1", took: .zero))
        #expect(machine.handle(.restored).isEmpty)
        return machine
    }

    private func writes(_ actions: [ServiceStateMachine.Action]) -> [Bool] {
        actions.compactMap { if case .writeConfigMap(let fresh) = $0 { fresh } else { nil } }
    }

    private func patches(_ actions: [ServiceStateMachine.Action]) -> [String] {
        actions.compactMap { if case .patchStatus(let update) = $0 { update.key.name } else { nil } }
    }

    private func done(_ actions: [ServiceStateMachine.Action]) -> [String] {
        actions.compactMap { if case .done(let key) = $0 { key.name } else { nil } }
    }

    private func retried(_ actions: [ServiceStateMachine.Action]) -> [String] {
        actions.compactMap { if case .retry(let key, _) = $0 { key.name } else { nil } }
    }

    @Test func aBurstCostsOneConfigMapWriteAndStatusesWaitForIt() throws {
        var machine = try Self.ready()
        var writesAsked: [Bool] = []
        for index in 0..<10 {
            let actions = machine.handle(
                .serviceChanged(Self.service("s\(index)").key, Self.service("s\(index)"), namespaceLabels: [:]))
            #expect(patches(actions).isEmpty, "no status before the ConfigMap holds the address")
            writesAsked += writes(actions)
        }
        #expect(writesAsked == [false], "one write in flight; the others wait for the next")
        let after = machine.handle(.configMapWritten(generation: machine.generation, version: "2", took: .zero))
        #expect(patches(after).count == 10, "the write covered all ten (it was made from the ledger as it is now)")
        #expect(writes(after).isEmpty)
        let finished = machine.handle(.statusWritten(Self.service("s0").key, olderVersions: ["10"]))
        #expect(done(finished) == ["s0"])
    }

    @Test func patchesInFlightAreBounded() throws {
        var machine = try Self.ready(width: 3)
        for index in 0..<5 {
            _ = machine.handle(
                .serviceChanged(Self.service("s\(index)").key, Self.service("s\(index)"), namespaceLabels: [:]))
        }
        let first = machine.handle(.configMapWritten(generation: machine.generation, version: "2", took: .zero))
        #expect(patches(first).count == 3)
        let next = machine.handle(.statusWritten(Self.service("s0").key, olderVersions: []))
        #expect(patches(next).count == 1 && done(next) == ["s0"])
        let failed = machine.handle(.statusFailed(Self.service("s1").key, KubeError(.conflict, "409")))
        #expect(retried(failed) == ["s1"] && patches(failed).count == 1)
        let gone = machine.handle(.statusFailed(Self.service("s2").key, KubeError(.notFound, "404")))
        #expect(done(gone) == ["s2"], "deleted meanwhile: its deletion comes back on its own")
    }

    @Test func aWriteThatFailsRetriesEveryoneWaitingAndPatchesNothing() throws {
        var machine = try Self.ready()
        _ = machine.handle(.serviceChanged(Self.service("a").key, Self.service("a"), namespaceLabels: [:]))
        _ = machine.handle(.serviceChanged(Self.service("b").key, Self.service("b"), namespaceLabels: [:]))
        let failed = machine.handle(.configMapFailed(KubeError(.forbidden, "configmaps is forbidden")))
        #expect(Set(retried(failed)) == ["a", "b"] && patches(failed).isEmpty)
        #expect(machine.outstanding == 0)
    }

    /// A node change owes a write that no Service waits for: when it fails, the machine backs off and writes again.
    @Test func aFailedWriteForANodeChangeIsWrittenAgainAfterABackoff() throws {
        var machine = try Self.ready()
        #expect(writes(machine.handle(.nodesChanged(["n1", "n2"]))) == [false])
        let failed = machine.handle(.configMapFailed(KubeError(.server, "etcdserver: request timed out")))
        #expect(failed.contains { if case .rest(let d) = $0 { d == .milliseconds(500) } else { false } })
        #expect(writes(failed).isEmpty && retried(failed).isEmpty)
        #expect(writes(machine.handle(.restEnded)) == [false], "the owed write, once the backoff has passed")
    }

    @Test func backToBackWritesRestAsLongAsTheLastOneTook() throws {
        var machine = try Self.ready()
        _ = machine.handle(.serviceChanged(Self.service("a").key, Self.service("a"), namespaceLabels: [:]))
        // b arrives while a's write is in flight.
        _ = machine.handle(.serviceChanged(Self.service("b").key, Self.service("b"), namespaceLabels: [:]))
        let afterFirst = machine.handle(
            .configMapWritten(generation: machine.generation - 1, version: "2", took: .milliseconds(40)))
        #expect(patches(afterFirst) == ["a"])
        #expect(afterFirst.contains { if case .rest(let d) = $0 { d == .milliseconds(40) } else { false } })
        #expect(writes(afterFirst).isEmpty, "resting")
        #expect(writes(machine.handle(.restEnded)) == [false])
    }

    @Test func aDeletedServiceLosesItsFinalizerOnlyOnceTheConfigMapForgetsIt() throws {
        var machine = try Self.ready()
        let web = Self.service("web")
        _ = machine.handle(.serviceChanged(web.key, web, namespaceLabels: [:]))
        _ = machine.handle(.configMapWritten(generation: machine.generation, version: "2", took: .zero))
        _ = machine.handle(.statusWritten(web.key, olderVersions: ["10"]))
        var deleting = Self.service("web", version: "12")
        deleting.metadata.deletionTimestamp = "2026-11-30T10:00:00Z"
        let release = machine.handle(.serviceChanged(web.key, deleting, namespaceLabels: [:]))
        #expect(!release.contains { if case .cleanUp = $0 { true } else { false } })
        #expect(writes(release) == [false])
        let written = machine.handle(.configMapWritten(generation: machine.generation, version: "3", took: .zero))
        let freed = written.compactMap { if case .cleanUp(_, let freed) = $0 { freed } else { nil } }
        #expect(freed == [[try IPAddress("192.0.2.1")]] && done(written) == ["web"])
    }

    /// One write per new Service: the finalizer goes on with the first status (the whole list, guarded by
    /// the version it was read at); a Service whose status already says everything gets the finalizer alone.
    @Test func theFinalizerGoesOnWithTheFirstStatusAnotherClassIgnoredAndStaleCachesSkipped() throws {
        var machine = try Self.ready()
        var bare = Self.service("bare", version: "21", finalizer: false)
        bare.metadata.finalizers = ["example.com/theirs"]
        let first = machine.handle(.serviceChanged(bare.key, bare, namespaceLabels: [:]))
        #expect(!first.contains { if case .addFinalizer = $0 { true } else { false } }, "no write of its own")
        #expect(writes(first) == [false] && patches(first).isEmpty, "the status waits for the ConfigMap")
        let written = machine.handle(.configMapWritten(generation: machine.generation, version: "2", took: .zero))
        let update = try #require(written.compactMap { if case .patchStatus(let u) = $0 { u } else { nil } }.first)
        #expect(update.finalizers == ["example.com/theirs", ControllerConfiguration.finalizer])
        #expect(update.resourceVersion == "21" && update.addresses == ["192.0.2.1"])
        // Served already (status written, the finalizer lost somehow): the finalizer alone.
        var served = Self.service("bare", version: "22", finalizer: false)
        served.status = update.status
        _ = machine.handle(.statusWritten(bare.key, olderVersions: ["21"]))
        let again = machine.handle(.serviceChanged(served.key, served, namespaceLabels: [:]))
        #expect(again.count == 1 && { if case .addFinalizer = again[0] { true } else { false } }(), "\(again)")
        // With the finalizer on, a status carries no metadata.
        let web = Self.service("web")
        _ = machine.handle(.serviceChanged(web.key, web, namespaceLabels: [:]))
        let plain = machine.handle(.configMapWritten(generation: machine.generation, version: "3", took: .zero))
        let webUpdate = try #require(plain.compactMap { if case .patchStatus(let u) = $0 { u } else { nil } }.first)
        #expect(webUpdate.finalizers == nil && webUpdate.resourceVersion == nil)
        _ = machine.handle(.statusWritten(web.key, olderVersions: ["10"]))

        var other = Self.service("other", finalizer: false)
        other.spec.loadBalancerClass = "example.com/other"
        #expect(done(machine.handle(.serviceChanged(other.key, other, namespaceLabels: [:]))) == ["other"])

        // The watch has not caught up with our status write yet: the old version is skipped.
        #expect(done(machine.handle(.serviceChanged(web.key, web, namespaceLabels: [:]))) == ["web"])
    }

    @Test func someoneElsesEditIsUndoneByAFreshWriteOursIsNot() throws {
        var machine = try Self.ready()
        #expect(writes(machine.handle(.configMapSeen(version: "1"))).isEmpty, "our own restore write")
        #expect(writes(machine.handle(.configMapSeen(version: "7"))) == [true], "an edit: read first, undo")
        // Seen while a write is in flight: judged once it is back.
        _ = machine.handle(.configMapWritten(generation: machine.generation, version: "8", took: .zero))
        _ = machine.handle(.serviceChanged(Self.service("a").key, Self.service("a"), namespaceLabels: [:]))
        #expect(machine.handle(.configMapSeen(version: "9")).isEmpty)
        let back = machine.handle(.configMapWritten(generation: machine.generation, version: "9", took: .zero))
        #expect(writes(back).isEmpty, "version 9 was our own write")
        #expect(writes(machine.handle(.configMapSeen(version: nil))) == [true], "deleted: written again")
    }

    @Test func aNodeChangeRewritesThePlanWithNothingWaiting() throws {
        var machine = try Self.ready()
        #expect(writes(machine.handle(.nodesChanged(["node-1"]))).isEmpty, "unchanged")
        #expect(writes(machine.handle(.nodesChanged(["node-1", "node-2"]))) == [false])
    }
}

/// The Service cache keeps only what reconciling reads; a field read but not kept would silently read nil.
/// Each case sets one field that decides something; the trimmed Service must decide exactly as the whole one.
@Suite("What the Service cache keeps")
struct ServiceCacheTrimTests {
    static let cases: [(String, @Sendable (inout Service) -> Void)] = [
        ("spec.loadBalancerIP", { $0.spec.loadBalancerIP = "192.0.2.9" }),
        ("spec.ipFamilies", { $0.spec.ipFamilies = ["IPv6"] }),
        (
            "spec.ipFamilyPolicy",
            {
                $0.spec.ipFamilies = ["IPv4", "IPv6"]
                $0.spec.ipFamilyPolicy = .requireDualStack
            }
        ),
        ("spec.clusterIPs", { $0.spec.clusterIPs = ["2001:db8::1"] }),
        ("spec.clusterIP", { $0.spec.clusterIP = "2001:db8::2" }),
        (
            "sharing key and ports",
            {
                $0.metadata.annotations[Sharing.annotation] = "dns"
                $0.spec.ports = [ServicePort(name: "dns", port: 53, targetPort: 53)]
            }
        ),
        ("forward method", { $0.metadata.annotations[ForwardMethod.annotation] = "DR" }),
        (
            "requested addresses",
            { $0.metadata.annotations[ControllerConfiguration.requestedIPsAnnotation] = "192.0.2.7" }
        ),
        ("pool", { $0.metadata.annotations[VIPPool.serviceAnnotation] = "default" }),
        ("spec.loadBalancerClass", { $0.spec.loadBalancerClass = "keepalived-lb.io/vrrp" }),
        ("spec.type", { $0.spec.type = .nodePort }),
    ]

    @Test(arguments: cases.indices)
    func theTrimmedServiceDecidesAsTheWholeOne(_ index: Int) throws {
        let (field, change) = Self.cases[index]
        var whole = ServiceStateMachineTests.service("web")
        whole.spec.ipFamilies = nil
        whole.metadata.labels = ["app": "web"]
        whole.spec.selector = ["app": "web"]
        change(&whole)
        let trimmed = ServiceController.trimmedForCache(whole)
        #expect(trimmed.json.count < whole.json.count || trimmed.spec.json.count <= whole.spec.json.count)
        let pool = try Pool.parse(["192.0.2.0/28", "2001:db8:1::/120"]).pool
        for configuration in [
            ControllerConfiguration(pool: pool),
            ControllerConfiguration(pool: pool, loadBalancerClass: "keepalived-lb.io/vrrp"),
        ] {
            #expect(configuration.serves(trimmed) == configuration.serves(whole), "\(field)")
            var wholeMachine = ServiceStateMachine(configuration: configuration)
            var trimmedMachine = wholeMachine
            let fromWhole = wholeMachine.handle(.serviceChanged(whole.key, whole, namespaceLabels: [:]))
            let fromTrimmed = trimmedMachine.handle(.serviceChanged(whole.key, trimmed, namespaceLabels: [:]))
            #expect(wholeMachine.ledger.records == trimmedMachine.ledger.records, "\(field)")
            #expect("\(fromWhole.map(Self.describe))" == "\(fromTrimmed.map(Self.describe))", "\(field)")
        }
    }

    /// Actions by kind and reason, without the objects (which differ by the trimmed fields).
    static func describe(_ action: ServiceStateMachine.Action) -> String {
        switch action {
        case .postEvent(_, let type, let reason, let message): "event \(type) \(reason) \(message)"
        case .setCondition(_, let reason, let message): "condition \(reason) \(message)"
        case .countAllocationFailure(let reason): "failure \(reason)"
        default: "\(action)".prefix(while: { $0 != "(" }).description
        }
    }
}
