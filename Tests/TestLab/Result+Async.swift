public import KubeClient

extension Result where Failure == any Error {
    /// The outcome of an async body, so a test can clean up (with awaits, which `defer` cannot hold) and then
    /// rethrow what went wrong.
    public init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// Runs `body` with `client`, then shuts the client down whether `body` returned or threw (a `defer` cannot
/// await the shutdown, and a task started from one outlives the test).
public func withClient<T>(_ client: KubernetesClient, _ body: (KubernetesClient) async throws -> T) async throws -> T {
    let outcome = await Result { try await body(client) }
    try? await client.shutdown()
    return try outcome.get()
}
