/// Time since now on `clock`, read as a `Duration`: what an actor keeps when it takes an injected clock, whose
/// instants have no type it could store (`any Clock<Duration>`).
public func stopwatch(on clock: some Clock<Duration>) -> @Sendable () -> Duration {
    let start = clock.now
    return { start.duration(to: clock.now) }
}
