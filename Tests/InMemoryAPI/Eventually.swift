/// Polls until `condition` holds or `timeout` passes; the API server, informers and controllers are
/// asynchronous, so tests wait for a state instead of sleeping a fixed time.
/// `poll` is how often it looks: shorter where a test times the moment the state arrives.
public func eventually(
    _ timeout: Duration = .seconds(20), poll: Duration = .milliseconds(50), _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: poll)
    }
    return try await condition()
}
