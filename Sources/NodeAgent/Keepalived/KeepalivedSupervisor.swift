public import Foundation
import Keepalived
import KubeClient
public import Logging
import ProcessSupervision

#if canImport(Glibc)
    import Glibc
#endif

/// Runs keepalived as a child in a process group of its own, reloads it only once it has
/// started (a SIGHUP during start-up kills it), and reports its exit at once.
public actor KeepalivedSupervisor {
    public struct Paths: Sendable {
        public let executable: String
        public let config: String
        public let pidFile: String
        public let vrrpPidFile: String
        public let log: String

        public init(executable: String, stateDirectory: String) {
            self.executable = executable
            config = stateDirectory + "/keepalived.conf"
            pidFile = stateDirectory + "/keepalived.pid"
            vrrpPidFile = stateDirectory + "/vrrp.pid"
            log = stateDirectory + "/keepalived.log"
        }
    }

    public nonisolated let paths: Paths
    let networkNamespace: String?
    let logger: Logger
    private var process: ChildProcess?
    /// When the running keepalived started, as `elapsed()` read then.
    private var startedAt: Duration?
    private let elapsed: @Sendable () -> Duration
    private let clock: any Clock<Duration>
    private var confirmedRunning = false
    /// Where the log ended when the running keepalived started: what it said since lies past this.
    private var startLogOffset: UInt64 = 0
    private var generation = 0
    /// Read once from `keepalived --version`: which options this executable accepts.
    private var build: KeepalivedBuild??

    /// One run of keepalived: whoever started it watches for its exit (`watch(_:)`).
    public struct Run: Sendable {
        /// nil: a run of a stand-in that is no child process (`init(generation:)`, for tests).
        let process: ChildProcess?
        public let generation: Int

        init(process: ChildProcess, generation: Int) {
            self.process = process
            self.generation = generation
        }

        public init(generation: Int) {
            process = nil
            self.generation = generation
        }
    }

    /// `clock`: what the start-up second, the stop grace and the waits for a process to go are measured on.
    public init(
        paths: Paths, networkNamespace: String?, clock: some Clock<Duration> = ContinuousClock(), logger: Logger
    ) {
        elapsed = stopwatch(on: clock)
        self.clock = clock
        self.paths = paths
        self.networkNamespace = networkNamespace
        self.logger = logger
        // keepalived's VRRP child becomes ours when keepalived dies: reaped in `groupGone`.
        ChildProcess.becomeSubreaper()
    }

    public var isRunning: Bool { process != nil }
    public var pid: pid_t? { process?.pid }

    /// A keepalived left by a previous agent (SIGKILLed agent) still holds VIPs: stop it first.
    public func stopOrphan() async {
        guard let orphan = OrphanProcess.find(pidFile: paths.pidFile, marker: "keepalived") else { return }
        logger.warning("stopping a keepalived left by a previous agent", metadata: ["pid": "\(orphan.pid)"])
        await orphan.stop(on: clock)
    }

    /// Starts keepalived; nil when it already runs. The caller watches the returned run.
    public func start() async throws(AgentError) -> Run? {
        guard process == nil else { return nil }
        let build = await probedBuild()
        guard process == nil else { return nil }
        for file in [paths.pidFile, paths.vrrpPidFile] { unlink(file) }
        startLogOffset = logOffset()
        // VRRP alone, where the build has more (the image's keepalived is built with VRRP only and has no --vrrp);
        // no --checkers_pid, as keepalived then never starts or looks for a checkers process.
        var arguments =
            [paths.executable, "--dont-fork", "--log-console", "--log-detail"]
            + (build?.vrrpOnlyArguments ?? ["--vrrp"])
            + ["--use-file", paths.config, "--pid", paths.pidFile, "--vrrp_pid", paths.vrrpPidFile]
        if let networkNamespace { arguments += ["--namespace", networkNamespace] }
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(arguments, outputPath: paths.log, newProcessGroup: true)
        } catch {
            throw AgentError(.keepalivedStartFailed, "\(error.message) (--keepalived \(paths.executable))")
        }
        process = child
        startedAt = elapsed()
        confirmedRunning = false
        generation += 1
        logger.info("keepalived started", metadata: ["pid": "\(child.pid)"])
        return Run(process: child, generation: generation)
    }

    /// The executable's build, asked once; nil (and the options of a full build) when it does not say.
    private func probedBuild() async -> KeepalivedBuild? {
        if let build { return build }
        let output = paths.log + ".version"
        unlink(output)
        defer { unlink(output) }
        // Not there (yet): asked again at the next start, whose own spawn says what is wrong.
        guard let child = try? ChildProcess.spawn([paths.executable, "--version"], outputPath: output) else {
            return nil
        }
        _ = await child.exitStatus()
        let found = (try? String(contentsOfFile: output, encoding: .utf8)).flatMap(KeepalivedBuild.init(versionOutput:))
        build = .some(found)
        if let found {
            logger.info(
                "keepalived build",
                metadata: [
                    "version": "\(found.version ?? "unknown")",
                    "options": "\(found.options.sorted().joined(separator: " "))",
                ])
        } else {
            logger.warning(
                "keepalived --version said nothing this agent understands; starting it as a full build",
                metadata: ["keepalived": "\(paths.executable)"])
        }
        return found
    }

    /// Waits for `run` to end. Returns its exit status when it ended without being asked to (the
    /// caller must react: its VIPs are still on the interface), nil when it was stopped on purpose
    /// or the caller was cancelled.
    public nonisolated func watch(_ run: Run) async -> Int32? {
        guard let status = await run.process?.exitStatusUnlessCancelled() else { return nil }
        return await exited(run, status: status) ? status : nil
    }

    private func exited(_ run: Run, status: Int32) async -> Bool {
        guard run.generation == generation, let process else { return false }
        // Its VRRP child may outlive it; the group goes with it, and only once the whole group is
        // gone may anyone speak for it (a priority-0 advert while its VRRP child still announces
        // would let a backup take over beside a live master).
        kill(-process.pid, SIGKILL)
        await Self.groupGone(process.pid, clock: clock)
        self.process = nil
        logger.error("keepalived exited", metadata: ["status": "\(status)", "log": "\(paths.log)"])
        return true
    }

    /// Waits (at most a second) until no process of group `group` is left, reaping those that are
    /// ours: run as a container's first process the agent inherits keepalived's orphaned VRRP
    /// child, and a restarted keepalived refuses to start while that zombie is named in its pid file.
    static func groupGone(_ group: pid_t, clock: any Clock<Duration>) async {
        for _ in 0..<200 {
            var status: Int32 = 0
            while waitpid(-group, &status, WNOHANG) > 0 {}
            if kill(-group, 0) != 0 && errno == ESRCH { return }
            try? await clock.sleep(for: .milliseconds(5))
        }
    }

    /// keepalived has started once its VRRP process has reported a state, or a second after its start when that
    /// process runs, or when keepalived said it has no instance to run (a SIGHUP then starts its VRRP process).
    public func markConfirmed() {
        confirmedRunning = process != nil
    }

    public var hasStarted: Bool {
        guard process != nil else { return false }
        if confirmedRunning { return true }
        guard let startedAt, elapsed() - startedAt > .seconds(1) else { return false }
        if let text = try? String(contentsOfFile: paths.vrrpPidFile, encoding: .utf8) {
            return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)).map { kill($0, 0) == 0 } ?? false
        }
        // Its configuration was replaced by one without instances before it read it: it waits for a SIGHUP.
        return logContains(Self.noInstancesLine, after: startLogOffset)
    }

    /// What a reload request found.
    public enum ReloadOutcome: Sendable {
        case sent
        /// keepalived is still starting (a SIGHUP now would kill it): ask again shortly.
        case notYetStarted
        case notRunning
    }

    /// SIGHUP if keepalived has started.
    public func reload() -> ReloadOutcome {
        guard let process else { return .notRunning }
        guard hasStarted else { return .notYetStarted }
        process.signal(SIGHUP)
        if access(paths.vrrpPidFile, F_OK) != 0 {
            logger.warning(
                """
                keepalived ran no VRRP process (its configuration had no instance when it started); \
                reloaded to start one
                """,
                metadata: ["log": "\(paths.log)"])
        } else {
            logger.info("keepalived reloaded")
        }
        return .sent
    }

    /// SIGTERM: keepalived sends priority-0 adverts so a backup takes over at once. SIGKILL
    /// for the group after `grace`. Returns as soon as keepalived has exited.
    public func stop(grace: Duration) async {
        guard let process else { return }
        generation += 1
        self.process = nil
        let clean = await process.stop(grace: grace, killGroup: true, clock: clock)
        // Whatever of its group is left (its VRRP child after a SIGKILL) goes too.
        process.signalGroup(SIGKILL)
        logger.info("keepalived stopped", metadata: clean ? [:] : ["killed after": "\(grace)"])
    }

    /// The size of keepalived's log now: a reload is confirmed by a completion line after it.
    public nonisolated func logOffset() -> UInt64 {
        var info = stat()
        return stat(paths.log, &info) == 0 ? UInt64(info.st_size) : 0
    }

    /// keepalived says that it has re-read its configuration only in its log: its VRRP process finished a reload, or
    /// one started (reading the configuration afresh) where none ran.
    static let reloadCompleteLines = ["Reload complete", "Starting VRRP child process"]
    /// What keepalived logs when its configuration has no instance: it runs no VRRP process until a SIGHUP.
    static let noInstancesLine = "keepalived has no configuration to run"

    /// Whether keepalived's log shows a finished reload after `offset`.
    public nonisolated func reloadCompleted(after offset: UInt64) -> Bool {
        guard let text = log(after: offset) else { return false }
        return Self.reloadCompleteLines.contains { text.contains($0) }
    }

    private nonisolated func logContains(_ line: String, after offset: UInt64) -> Bool {
        log(after: offset)?.contains(line) ?? false
    }

    private nonisolated func log(after offset: UInt64) -> String? {
        guard let handle = FileHandle(forReadingAtPath: paths.log) else { return nil }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: offset)) != nil, let data = try? handle.readToEnd() else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
