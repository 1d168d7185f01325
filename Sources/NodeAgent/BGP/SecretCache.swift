/// Peers' passwords as last read from their Secrets, by Secret name and key. A busy cluster changes its plan many
/// times a second and every change recomputes bird.conf on every node: reading each Secret again each time would be
/// a GET per node per change. A value is reused until a BGPPeer changes (`removeAll`) or `lifetime` has passed, so a
/// rotated password reaches BIRD within that time. Time is passed in (the caller's clock, as time since it
/// started): no clock is read here.
struct SecretCache<Value> {
    struct Key: Hashable {
        var name: String
        var key: String
    }

    let lifetime: Duration
    private var entries: [Key: (value: Value, readAt: Duration)] = [:]

    init(lifetime: Duration) { self.lifetime = lifetime }

    func value(_ key: Key, at now: Duration) -> Value? {
        guard let entry = entries[key], now - entry.readAt < lifetime else { return nil }
        return entry.value
    }

    mutating func store(_ value: Value, for key: Key, at now: Duration) {
        entries[key] = (value, now)
    }

    mutating func removeAll() { entries = [:] }

    /// Whether some value has outlived `lifetime` (time to read the Secrets again even if nothing changed).
    func hasExpired(at now: Duration) -> Bool {
        entries.values.contains { now - $0.readAt >= lifetime }
    }
}
