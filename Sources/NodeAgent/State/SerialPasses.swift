/// One recompute pass at a time in an actor: a pass suspended at an `await` and resumed after a later pass would
/// apply the older input it read. A change during a pass runs exactly one more pass after it.
struct SerialPasses {
    private var running = false
    private var again = false

    /// Whether the caller runs the pass now; false when one runs already (that one will run once more).
    mutating func begin() -> Bool {
        guard !running else {
            again = true
            return false
        }
        running = true
        return true
    }

    /// Whether the caller runs another pass (something changed during this one); when not, the run has ended.
    mutating func next() -> Bool {
        guard again else {
            running = false
            return false
        }
        again = false
        return true
    }
}
