/// When the routing daemon runs, is reloaded and restarted: BIRD runs while a BGPPeer selects this node, is
/// reloaded (`birdc configure`: sessions stay up) when its configuration changes, and restarted with backoff when
/// it dies. No I/O: the `BGPSpeaker` actor runs the actions.
struct BGPSpeakerStateMachine: Sendable {
    enum Event: Sendable {
        /// The configuration this node should run; nil: no peer selects it (no daemon).
        case desired(String?)
        /// A run of the daemon ended (a run that was stopped on purpose is ignored).
        case exited(run: Int, status: Int32)
        /// The daemon answered a status query: the restart backoff starts over.
        case answered
        case restartTimerFired
        case stopRequested
    }

    enum Action: Equatable, Sendable {
        case write(String)
        case start(run: Int)
        case reload
        /// Stop the running daemon: it closes its sessions (the peers withdraw its routes at once).
        case stop
        case scheduleRestart(after: Duration)
    }

    static let initialBackoff = Duration.milliseconds(500)
    static let maximumBackoff = Duration.seconds(30)

    private(set) var desired: String?
    private(set) var running = false
    private(set) var stopping = false
    /// What the running daemon was last given.
    private var applied: String?
    private var run = 0
    private var failures = 0
    private var restartPending = false

    mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case .desired(let configuration):
            guard !stopping else { return [] }
            desired = configuration
            guard let configuration else {
                guard running else { return [] }
                running = false
                applied = nil
                return [.stop]
            }
            if running {
                guard configuration != applied else { return [] }
                applied = configuration
                return [.write(configuration), .reload]
            }
            guard !restartPending else { return [] }
            return start(configuration)
        case .exited(let exitedRun, _):
            guard exitedRun == run, running else { return [] }
            running = false
            applied = nil
            guard desired != nil, !stopping else { return [] }
            failures += 1
            restartPending = true
            return [.scheduleRestart(after: backoff)]
        case .answered:
            failures = 0
            return []
        case .restartTimerFired:
            restartPending = false
            guard !running, !stopping, let desired else { return [] }
            return start(desired)
        case .stopRequested:
            stopping = true
            guard running else { return [] }
            running = false
            return [.stop]
        }
    }

    private mutating func start(_ configuration: String) -> [Action] {
        run += 1
        running = true
        applied = configuration
        return [.write(configuration), .start(run: run)]
    }

    private var backoff: Duration {
        var delay = Self.initialBackoff
        for _ in 1..<max(failures, 1) where delay < Self.maximumBackoff { delay *= 2 }
        return min(delay, Self.maximumBackoff)
    }
}
