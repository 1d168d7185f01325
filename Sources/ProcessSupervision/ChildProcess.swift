import CProcess
public import Errors
public import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child started with posix_spawn, a clean signal mask and default dispositions.
/// Foundation's `Process` passes on the spawning thread's signal mask (dispatch threads block
/// SIGTERM and SIGUSR1, so the child could never be told to stop) and learns about exit through
/// a descriptor that grandchildren inherit; both made tests hang.
public final class ChildProcess: Sendable {
    public let pid: pid_t

    /// The exit is recorded once, by whoever reaps the child: a reaped pid cannot be waited for
    /// again, so every later question must be answered from here (else a stop waits its full grace).
    private struct Exit {
        var status: Int32?
        /// Keyed so that a cancelled waiter can be taken out again.
        var waiters: [Int: CheckedContinuation<Int32?, Never>] = [:]
        var nextWaiter = 0
        var waiting = false
    }

    private let exit = Mutex(Exit())

    private init(pid: pid_t) {
        self.pid = pid
    }

    /// Starts `arguments[0]` (looked up in PATH) with stdout and stderr appended to `outputPath`.
    /// `newProcessGroup` puts it in a group of its own, so it and its children can be signalled together.
    public static func spawn(_ arguments: [String], outputPath: String, newProcessGroup: Bool = false)
        throws(ChildProcessError) -> ChildProcess
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else crosses over: a keepalived that inherited the agent's metrics listener or
        // API connection would keep the port bound and the socket open after the agent died.
        guard let closeFrom = Self.addCloseFrom else {
            throw ChildProcessError(
                .spawnFailed,
                "cannot start \(arguments[0]): this C library lacks posix_spawn_file_actions_addclosefrom_np "
                    + "(glibc 2.34 or later is required)"
            )
        }
        _ = closeFrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newProcessGroup {
            flags |= POSIX_SPAWN_SETPGROUP
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let cArguments = arguments.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, cArguments, environ)
        guard result == 0 else {
            throw ChildProcessError(
                .spawnFailed,
                "\(SystemCallError("cannot start \(arguments.joined(separator: " "))", errnoCode: result)); check the "
                    + "path and permissions"
            )
        }
        return ChildProcess(pid: pid)
    }

    /// glibc ≥ 2.34 has it, but its header only declares it under _GNU_SOURCE, which Swift's
    /// Glibc module does not set.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    public func signal(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Makes this process inherit the orphans of its descendants, so a supervisor can reap a
    /// child's children when the child dies first. Returns false where the kernel refuses.
    @discardableResult
    public static func becomeSubreaper() -> Bool {
        cprocess_become_child_subreaper() == 0
    }

    /// Signals the whole process group (only meaningful with `newProcessGroup`).
    public func signalGroup(_ signal: Int32) {
        kill(-pid, signal)
    }

    /// Whether it has exited, without blocking; reaps it when it has.
    public func hasExited() -> Int32? {
        exit.withLock { state in
            if let status = state.status { return status }
            var raw: Int32 = 0
            guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
            return Self.record(Self.decode(raw), in: &state)
        }
    }

    /// Waits for exit off the cooperative pool; returns the exit status (128+n for a signal).
    public func exitStatus() async -> Int32 {
        await waitForExit(id: nextWaiterID(), cancellable: false) ?? -1
    }

    /// The exit status, or nil as soon as the calling task is cancelled (a supervisor that is
    /// shutting down stops watching; the child keeps running).
    public func exitStatusUnlessCancelled() async -> Int32? {
        let id = nextWaiterID()
        return await withTaskCancellationHandler {
            await waitForExit(id: id, cancellable: true)
        } onCancel: {
            exit.withLock { state in state.waiters.removeValue(forKey: id) }?.resume(returning: nil)
        }
    }

    private func nextWaiterID() -> Int {
        exit.withLock { state -> Int in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
    }

    private func waitForExit(id: Int, cancellable: Bool) async -> Int32? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32?, Never>) in
            let startWaiter = exit.withLock { state -> Bool in
                if let status = state.status {
                    continuation.resume(returning: status)
                    return false
                }
                if cancellable && Task.isCancelled {
                    continuation.resume(returning: nil)
                    return false
                }
                state.waiters[id] = continuation
                defer { state.waiting = true }
                return !state.waiting
            }
            if startWaiter {
                // waitpid blocks: a thread of its own, as the agent's FIFO reader has, not one of the pool's.
                let thread = Thread { _ = self.waitBlocking() }
                thread.name = "wait-\(pid)"
                thread.start()
            }
        }
    }

    /// Blocks until the child has exited; safe to call alongside `exitStatus()` and `hasExited()`.
    public func waitBlocking() -> Int32 {
        if let status = exit.withLock({ $0.status }) { return status }
        var raw: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &raw, 0) } while result < 0 && errno == EINTR
        if result == pid {
            return exit.withLock { Self.record(Self.decode(raw), in: &$0) }
        }
        // Reaped by `hasExited()` meanwhile, which records the status under the lock before it
        // lets go of it.
        return exit.withLock { $0.status } ?? -1
    }

    private static func record(_ status: Int32, in state: inout Exit) -> Int32 {
        if let recorded = state.status { return recorded }
        state.status = status
        for waiter in state.waiters.values { waiter.resume(returning: status) }
        state.waiters = [:]
        return status
    }

    private static func decode(_ status: Int32) -> Int32 {
        if status & 0x7f == 0 { return (status >> 8) & 0xff }
        return 128 + (status & 0x7f)
    }

    /// SIGTERM, then SIGKILL (to the whole group with `killGroup`) once `grace` has passed on `clock`; returns
    /// once the child is reaped: true when it went within the grace.
    @discardableResult
    public func stop(
        grace: Duration = .seconds(5), killGroup: Bool = false, clock: any Clock<Duration> = ContinuousClock()
    ) async -> Bool {
        kill(pid, SIGTERM)
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                _ = await self.exitStatus()
                return true
            }
            group.addTask {
                try? await clock.sleep(for: grace)
                return false
            }
            let clean = await group.next() ?? false
            if !clean { kill(killGroup ? -pid : pid, SIGKILL) }
            group.cancelAll()
            return clean
        }
    }
}

/// A child process could not be started.
public struct ChildProcessError: CodedError {
    public typealias Code = ErrorCode<ChildProcessError>

    public let code: Code
    /// What happened and what the operator should do about it.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

extension ErrorCode where Domain == ChildProcessError {
    public static var spawnFailed: Self { Self(ChildProcessErrorName.spawnFailed) }
}

/// ChildProcessError's code names, each written once.
private enum ChildProcessErrorName: String {
    case spawnFailed = "SpawnFailed"
}
