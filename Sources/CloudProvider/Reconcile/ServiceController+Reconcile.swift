import CoreMetrics
import Foundation
import IPAM
import Keepalived
import KubeClient
import Logging

/// The controller's I/O: it runs what `ServiceStateMachine` decides and tells it how each action went.
extension ServiceController {
    /// Work that runs beside the workers, as a child task of `run()`: it reports back through `handle`.
    enum Job: Sendable {
        case writeConfigMap(freshRead: Bool)
        case rest(Duration)
        case patchStatus(StatusUpdate)
        /// A Service turned Local: its slices that exist already, listed from the API (not by unpacking the whole
        /// slice cache per Service).
        case fillLocalEndpoints(ObjectKey)
    }

    /// One worker's turn: the Service as the cache has it now, decided on, acted on.
    func reconcile(_ key: ObjectKey) async {
        let service = await informer.get(key)
        let labels = await labels(for: service)
        await handle(.serviceChanged(key, service, namespaceLabels: labels))
    }

    private func labels(for service: Service?) async -> [String: String] {
        guard let service, machine.catalog.selectsByLabels else { return [:] }
        return await namespaceLabels(service.metadata.namespace ?? "")
    }

    /// Feeds an event to the state machine and runs what it answers, in order. When an action for a key
    /// fails, that key is retried and its later actions are skipped.
    func handle(_ event: ServiceStateMachine.Event) async {
        var failedKeys = Set<ObjectKey>()
        for action in machine.handle(event) {
            // An action's I/O for one key: when it fails, the key is retried and its later actions skipped.
            var serviceWrite: (key: ObjectKey, run: () async throws -> Void)?
            switch action {
            case .addFinalizer(let service):
                serviceWrite = (
                    service.key,
                    {
                        let updated = try await self.addFinalizer(to: service)
                        await self.handle(
                            .finalizerAdded(
                                updated, previousVersion: service.metadata.resourceVersion ?? "",
                                namespaceLabels: await self.labels(for: updated)))
                    }
                )
            case .setCondition(let service, let reason, let message):
                serviceWrite = (service.key, { try await self.setCondition(service, reason: reason, message: message) })
            case .cleanUp(let service, let freed):
                serviceWrite = (service.key, { try await self.cleanUp(service, freed: freed) })
            case .postEvent(let reference, let type, let reason, let message):
                events.post(reference, type: type, reason: reason, message: message)
            case .countAllocationFailure(let reason):
                metrics.allocationFailure(reason: reason)
            case .countAllocations(let count):
                metrics.allocations.increment(by: count)
            case .countReleases(let count):
                metrics.releases.increment(by: count)
            case .writeConfigMap(let freshRead):
                jobQueue.yield(.writeConfigMap(freshRead: freshRead))
            case .rest(let duration):
                jobQueue.yield(.rest(duration))
            case .patchStatus(let update):
                jobQueue.yield(.patchStatus(update))
            case .done(let key):
                if !failedKeys.contains(key) { await queue.done(key) }
            case .retry(let key, let error):
                if !failedKeys.contains(key) { await failed(key, error) }
            }
            guard let serviceWrite else { continue }
            do { try await serviceWrite.run() } catch {
                failedKeys.insert(serviceWrite.key)
                await failed(serviceWrite.key, error)
            }
        }
        busy.update(outstanding: machine.outstanding)
    }

    /// Runs one job and reports its outcome.
    func perform(_ job: Job) async {
        switch job {
        case .writeConfigMap(let freshRead):
            do {
                try await writeConfigMap(freshRead: freshRead)
            } catch let full as ConfigMapFull {
                // Nothing is sent: the ConfigMap as it is (every VIP already in it) stays served.
                logger.error("the VIP ConfigMap is full", metadata: ["bytes": "\(full.bytes)"])
                let reference = ConfigMap(name: configuration.configMapName, namespace: configuration.namespace)
                    .reference
                events.post(reference, type: .warning, reason: "ConfigMapFull", message: full.message)
                await handle(.configMapFailed(full))
            } catch {
                logger.warning(
                    "could not write the VIP ConfigMap; written again after a backoff, waiting Services retried",
                    metadata: ["error": "\(error)"])
                await handle(.configMapFailed(error))
            }
        case .rest(let duration):
            try? await clock.sleep(for: duration)
            await handle(.restEnded)
        case .patchStatus(let update):
            do {
                let older = try await announce(update)
                await handle(.statusWritten(update.key, olderVersions: update.olderVersions + older))
            } catch {
                await handle(.statusFailed(update.key, error))
            }
        case .fillLocalEndpoints(let key):
            await fillFromAPI(key)
        }
    }

    /// Writes the ConfigMap as the machine's ledger and nodes are now and tells the machine it landed; throws
    /// what the write threw (the caller says so to the machine, or gives up starting).
    func writeConfigMap(freshRead: Bool) async throws {
        let snapshot = snapshot()
        // On the controller's clock: the rest before the next write is as long as this one took.
        let started = elapsed()
        let outcome = try await writer.write(snapshot, freshRead: freshRead)
        let took = elapsed() - started
        if let repair = outcome.repair { reportRepair(repair) }
        await reportPlacement()
        await handle(.configMapWritten(generation: snapshot.generation, version: outcome.version, took: took))
    }

    /// Writes one status, with our finalizer when the update adds it; the ConfigMap already carries its
    /// addresses. Returns the versions between (a server that keeps metadata out of `/status` writes costs a
    /// finalizer write of its own).
    private func announce(_ update: StatusUpdate) async throws -> [String] {
        let status = JSONValue.object(update.status.json)
        let written: Service = try await client.patch(
            Service.self, namespace: update.reference.namespace, name: update.reference.name ?? "",
            update.finalizers.map { .finalizers($0, resourceVersion: update.resourceVersion, status: status) }
                ?? .merge(["status": status]),
            subresource: "status")
        statusWrites += 1
        var between: [String] = []
        if update.finalizers != nil, !written.metadata.finalizers.contains(ControllerConfiguration.finalizer) {
            _ = try await addFinalizer(to: written)
            between = [written.metadata.resourceVersion ?? ""]
        }
        events.post(
            update.reference, type: .normal, reason: "EnsuredLoadBalancer",
            message: "Ensured load balancer: \(update.addresses.joined(separator: ", "))")
        return between
    }

    /// Our finalizer in a PATCH of its own, guarded by the version `service` was read at; returns the Service
    /// as written.
    private func addFinalizer(to service: Service) async throws -> Service {
        let updated: Service = try await client.patch(
            Service.self, namespace: service.metadata.namespace, name: service.metadata.name ?? "",
            .finalizers(
                service.metadata.finalizers + [ControllerConfiguration.finalizer],
                resourceVersion: service.metadata.resourceVersion))
        finalizerWrites += 1
        return updated
    }

    /// Clears what we wrote into the status of a Service we no longer serve and drops our finalizer; the
    /// ConfigMap no longer names its addresses.
    private func cleanUp(_ service: Service, freed: [IPAddress]) async throws {
        var service = service
        if service.metadata.deletionTimestamp == nil && !service.status.loadBalancer.ingress.isEmpty {
            // A merge patch removes a field only when it is set to null.
            let conditions = service.status.conditions.filter { $0.type != ControllerConfiguration.conditionType }
            service = try await client.patchStatus(
                Service.self, namespace: service.metadata.namespace, name: service.metadata.name ?? "",
                [
                    "loadBalancer": ["ingress": nil],
                    "conditions": conditions.isEmpty ? nil : .array(conditions.map { .object($0.json) }),
                ])
        }
        if service.metadata.finalizers.contains(ControllerConfiguration.finalizer) {
            let remaining = service.metadata.finalizers.filter { $0 != ControllerConfiguration.finalizer }
            let _: Service = try await client.patch(
                Service.self, namespace: service.metadata.namespace, name: service.metadata.name ?? "",
                .finalizers(remaining, resourceVersion: service.metadata.resourceVersion))
        }
        if !freed.isEmpty {
            events.post(
                service.reference, type: .normal, reason: "DeletedLoadBalancer",
                message: "Released \(freed.map(\.description).joined(separator: ", "))")
        }
    }

    /// A False condition saying why, unless the Service already says exactly that.
    private func setCondition(_ service: Service, reason: String, message: String) async throws {
        let existing = service.status.conditions.first { $0.type == ControllerConfiguration.conditionType }
        if existing?.status == .false && existing?.reason == reason && existing?.message == message { return }
        let conditions = ServiceStateMachine.mergedConditions(service, ok: false, reason: reason, message: message)
        let _: Service = try await client.patchStatus(
            Service.self, namespace: service.metadata.namespace, name: service.metadata.name ?? "",
            ["conditions": .array(conditions.map { .object($0.json) })])
    }

    private func reportRepair(_ repair: ConfigMapRepair) {
        metrics.configMapRepairs.increment()
        logger.warning(
            "repaired the VIP ConfigMap",
            metadata: [
                "configmap": "\(configuration.namespace)/\(configuration.configMapName)",
                "undone": "\(repair.message)",
            ])
        events.post(repair.reference, type: .warning, reason: "ConfigMapRepaired", message: repair.message)
    }
}
