import Foundation
public import Logging

/// Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics: a lease is
/// free when its holder is empty or when this process has seen no change to it for
/// `leaseDuration` (local observation, so clock skew between nodes does not matter).
public actor LeaderElector {
    public struct Configuration: Sendable {
        public var leaseName: String
        public var namespace: String
        public var identity: String
        public var leaseDuration: Duration
        /// A leader that cannot renew for this long steps down.
        public var renewDeadline: Duration
        public var retryPeriod: Duration

        public init(
            leaseName: String, namespace: String, identity: String, leaseDuration: Duration = .seconds(15),
            renewDeadline: Duration = .seconds(10), retryPeriod: Duration = .seconds(2)
        ) {
            self.leaseName = leaseName
            self.namespace = namespace
            self.identity = identity
            self.leaseDuration = leaseDuration
            self.renewDeadline = renewDeadline
            self.retryPeriod = retryPeriod
        }
    }

    private let client: any KubernetesAPI
    public let configuration: Configuration
    private let logger: Logger
    private var observed: LeaseSpec?
    /// When `observed` last changed, as `elapsed()` read then.
    private var observedAt: Duration = .zero
    public private(set) var isLeader = false
    /// Time since this elector was made, on the injected clock (leases are judged by local observation only).
    private let elapsed: @Sendable () -> Duration
    private let sleep: @Sendable (Duration) async throws -> Void

    /// `clock`: what the lease duration, renew deadline and retry period are measured on (tests move a manual one).
    public init(
        client: any KubernetesAPI, configuration: Configuration, clock: some Clock<Duration> = ContinuousClock(),
        logger: Logger = Logger(label: "leader-election")
    ) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
        elapsed = stopwatch(on: clock)
        sleep = { try await clock.sleep(for: $0) }
    }

    /// Waits for leadership, runs `body` while leading, and returns when leadership is lost
    /// (throwing `KubeError`), when `body` returns, or when the task is cancelled; the lease is released first.
    public func run(whileLeading body: @escaping @Sendable () async throws -> Void) async throws {
        try await acquire()
        try await lead(body)
    }

    /// Returns once this instance holds the lease. An API error (a restarting apiserver, a dropped connection)
    /// is retried, as client-go does: a standby that exits on one would restart its pod for nothing.
    public func acquire() async throws {
        var failing: KubeError.Code?
        while true {
            do {
                if try await tryAcquireOrRenew() { break }
                if failing != nil {
                    logger.info("lease reachable again", metadata: ["lease": "\(configuration.leaseName)"])
                    failing = nil
                }
            } catch {
                try Task.checkCancellation()
                if failing != error.code {
                    logger.warning(
                        "could not read or take the lease; retrying every \(configuration.retryPeriod)",
                        metadata: ["lease": "\(configuration.leaseName)", "error": "\(error)"])
                    failing = error.code
                }
            }
            try await sleep(configuration.retryPeriod)
        }
        isLeader = true
        logger.info(
            "became leader",
            metadata: [
                "lease": "\(configuration.namespace)/\(configuration.leaseName)",
                "identity": "\(configuration.identity)",
            ])
    }

    /// Runs `body` while renewing the lease; when `body` returns or throws, or leadership is lost, the lease is
    /// released so a standby takes over at once. A caller that wants a clean hand-over ends `body` (a graceful
    /// shutdown) rather than cancelling this task.
    public func lead(_ body: @escaping @Sendable () async throws -> Void) async throws {
        defer { isLeader = false }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await body() }
                group.addTask { try await self.renewLoop() }
                _ = try await group.next()
                group.cancelAll()
            }
        } catch {
            await releaseOnExit()
            throw error
        }
        await releaseOnExit()
    }

    /// A cancelled task's requests fail at once, so a leader cancelled outright (not ended by its body)
    /// releases from a task of its own, awaited here; Swift 6.3 has no cancellation shield.
    private func releaseOnExit() async {
        if Task.isCancelled {
            await Task { await self.release() }.value
        } else {
            await release()
        }
    }

    private func renewLoop() async throws {
        var lastRenew = elapsed()
        while true {
            try await sleep(configuration.retryPeriod)
            let remaining = configuration.renewDeadline - (elapsed() - lastRenew)
            let renewed =
                remaining > .zero
                ? ((try? await withTimeout(remaining, sleep: sleep) { try await self.tryAcquireOrRenew() }) ?? false)
                : false
            if renewed {
                lastRenew = elapsed()
            } else if elapsed() - lastRenew > configuration.renewDeadline {
                logger.error(
                    "lost leadership: could not renew within the renew deadline",
                    metadata: ["lease": "\(configuration.leaseName)"])
                throw KubeError(
                    .conflict,
                    "leadership of lease \(configuration.namespace)/\(configuration.leaseName) lost: not renewed "
                        + "within \(configuration.renewDeadline)"
                )
            }
        }
    }

    /// One attempt; true when this process holds the lease afterwards.
    func tryAcquireOrRenew() async throws(KubeError) -> Bool {
        let now = KubeTime.format(Date(), micro: true)
        let durationSeconds = Int(configuration.leaseDuration.components.seconds)
        var lease: Lease
        do {
            lease = try await client.get(Lease.self, namespace: configuration.namespace, name: configuration.leaseName)
        } catch let error where error.code == .notFound {
            var fresh = Lease()
            fresh.metadata = ObjectMeta(name: configuration.leaseName, namespace: configuration.namespace)
            fresh.spec.holderIdentity = configuration.identity
            fresh.spec.leaseDurationSeconds = durationSeconds
            fresh.spec.acquireTime = now
            fresh.spec.renewTime = now
            fresh.spec.leaseTransitions = 0
            do {
                let created = try await client.create(fresh)
                observe(created.spec)
                return true
            } catch let error where error.code == .alreadyExists || error.code == .conflict {
                return false
            }
        }
        observe(lease.spec)
        let holder = lease.spec.holderIdentity ?? ""
        let held = !holder.isEmpty && holder != configuration.identity
        if held && elapsed() - observedAt < .seconds(lease.spec.leaseDurationSeconds ?? durationSeconds) {
            return false
        }
        if holder != configuration.identity {
            lease.spec.acquireTime = now
            lease.spec.leaseTransitions =
                (lease.spec.leaseTransitions ?? 0) + (holder.isEmpty && lease.spec.leaseTransitions == nil ? 0 : 1)
        }
        lease.spec.holderIdentity = configuration.identity
        lease.spec.leaseDurationSeconds = durationSeconds
        lease.spec.renewTime = now
        do {
            let updated = try await client.update(lease)
            observe(updated.spec)
            return true
        } catch let error where error.code == .conflict {
            return false
        }
    }

    private func observe(_ spec: LeaseSpec) {
        if observed != spec {
            observed = spec
            observedAt = elapsed()
        }
    }

    /// Gives the lease up so a standby takes over at once instead of after `leaseDuration`.
    public func release() async {
        guard
            var lease = try? await client.get(
                Lease.self, namespace: configuration.namespace, name: configuration.leaseName),
            lease.spec.holderIdentity == configuration.identity
        else { return }
        lease.spec.holderIdentity = ""
        lease.spec.leaseDurationSeconds = 1
        lease.spec.renewTime = KubeTime.format(Date(), micro: true)
        do {
            _ = try await client.update(lease)
            logger.info("released leadership", metadata: ["lease": "\(configuration.leaseName)"])
        } catch {
            logger.warning(
                "could not release the lease; a standby takes over after the lease duration",
                metadata: ["error": "\(error)"])
        }
    }
}
