import Foundation
import IPAM
import Keepalived
import KubeClient
import Logging

/// Gives LoadBalancer Services addresses from the pool, keeps the VIP ConfigMap in step and
/// reports through status, conditions and events. One instance runs in the elected leader.
public actor ServiceController {
    let client: KubernetesClient
    let configuration: ControllerConfiguration
    let logger: Logger
    let events: EventRecorder
    let queue = WorkQueue()
    let informer: Informer<Service>
    var ledger: Ledger
    var writer: ConfigMapWriter?
    public private(set) var isReady = false

    public init(client: KubernetesClient, configuration: ControllerConfiguration, logger: Logger = Logger(label: "service-controller")) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
        events = EventRecorder(client: client, component: "keepalived-cloud-provider", logger: logger)
        informer = Informer<Service>(client: client, namespace: configuration.serviceNamespace, logger: logger)
        ledger = Ledger(pool: configuration.pool)
    }

    /// Restores the ledger from cluster state, then reconciles until cancelled.
    public func run() async throws {
        let writer = ConfigMapWriter(client: client, namespace: configuration.namespace, name: configuration.configMapName, logger: logger) { [weak self] in
            await self?.snapshot() ?? (0, [], LegacyLedger(records: []))
        }
        self.writer = writer
        try await restore()
        try await writer.flush()
        isReady = true
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await self.informer.run { event in
                    switch event {
                    case .added(let s), .deleted(let s): await self.queue.add(s.key)
                    case .updated(_, let s): await self.queue.add(s.key)
                    case .synced: break
                    }
                }
            }
            for _ in 0..<max(configuration.workers, 1) {
                group.addTask { await self.worker() }
            }
            await withTaskCancellationHandler {
                await group.waitForAll()
            } onCancel: {
                Task { await self.queue.shutDown() }
            }
        }
    }

    private func worker() async {
        while let key = await queue.next() {
            do {
                try await reconcile(key)
                await queue.done(key)
            } catch {
                logger.warning("reconcile failed; will retry", metadata: ["service": "\(key)", "error": "\(error)"])
                await queue.retry(key)
            }
        }
    }

    func snapshot() -> (generation: Int, entries: [VIPEntry], ledger: LegacyLedger) {
        (ledger.generation, ledger.entries, ledger.legacyLedger)
    }

    func isManaged(_ service: Service) -> Bool {
        service.spec.type == "LoadBalancer" && service.spec.loadBalancerClass == configuration.loadBalancerClass
    }

    /// Usage of the pool, per family, for metrics and tests.
    public func usage(_ family: IPFamily) -> Usage { ledger.allocator.usage(family) }
    public func addresses(of key: String) -> [IPAddress] { ledger.records[key]?.addresses ?? [] }
    public var configMapWrites: Int { get async { await writer?.writes ?? 0 } }
}
