/// Runs `operation`, giving up after `timeout`: a renewal that hangs must not outlive the
/// deadline that decides whether this process still leads.
func withTimeout<T: Sendable>(
    _ timeout: Duration, sleep: @escaping @Sendable (Duration) async throws -> Void,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await sleep(timeout)
            throw KubeError(.timeout, "gave up after \(timeout)")
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
