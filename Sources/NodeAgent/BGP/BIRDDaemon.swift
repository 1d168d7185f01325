import Foundation
import ProcessSupervision

/// The BIRD process and its control socket: start, reload, query, stop. Only this type runs `bird` and `birdc`.
actor BIRDDaemon {
    struct Paths: Sendable {
        var bird: String
        var birdc: String
        var directory: String
        var config: String { directory + "/bird.conf" }
        var socket: String { directory + "/bird.ctl" }
        var log: String { directory + "/bird.log" }
        var pidFile: String { directory + "/bird.pid" }
    }

    let paths: Paths
    /// Run inside this named network namespace (tests and sandboxes): `ip netns exec`.
    let networkNamespace: String?
    private var process: ChildProcess?

    private let sleep: @Sendable (Duration) async throws -> Void

    /// `clock`: what the stop grace and the wait for an orphan to go are measured on.
    init(paths: Paths, networkNamespace: String?, clock: some Clock<Duration> = ContinuousClock()) {
        sleep = { try await clock.sleep(for: $0) }
        self.paths = paths
        self.networkNamespace = networkNamespace
    }

    private func command(_ arguments: [String]) -> [String] {
        networkNamespace.map { ["ip", "netns", "exec", $0] + arguments } ?? arguments
    }

    /// Starts BIRD in the foreground (its own process group, so a stop reaches nothing else).
    func start() throws(ChildProcessError) -> ChildProcess {
        try? FileManager.default.removeItem(atPath: paths.socket)
        let child = try ChildProcess.spawn(
            command([paths.bird, "-f", "-c", paths.config, "-s", paths.socket, "-P", paths.pidFile]),
            outputPath: paths.log,
            newProcessGroup: true)
        process = child
        return child
    }

    /// A BIRD left by a previous agent that was killed outright (outside a container nothing stops its children)
    /// still holds this node's sessions and TCP 179, and no agent controls it: stopped before a new one starts.
    /// Returns its pid when there was one.
    func stopOrphan() async -> pid_t? {
        guard process == nil, let text = try? String(contentsOfFile: paths.pidFile, encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1, Self.isAlive(pid),
            let cmdline = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
            cmdline.contains(paths.config)
        else { return nil }
        // Not our child: its exit cannot be awaited, only observed.
        kill(pid, SIGTERM)
        for _ in 0..<100 where Self.isAlive(pid) { try? await sleep(.milliseconds(20)) }
        if Self.isAlive(pid) { kill(pid, SIGKILL) }
        return pid
    }

    /// Running, and not a zombie (an exited orphan stays one until whoever inherited it reaps it).
    private static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.range(of: ") ", options: .backwards)
        else { return true }
        return stat[end.upperBound...].first != "Z"
    }

    /// `birdc configure`: re-reads the file; sessions whose settings did not change stay up. nil when done, else
    /// BIRD's answer.
    func configure() async -> String? {
        guard let output = await query(["configure"]) else { return "birdc could not reach bird" }
        return output.contains("Reconfigured") || output.contains("Reconfiguration in progress")
            || output.contains("Reconfiguration already in progress") ? nil : String(output.prefix(500))
    }

    /// A `birdc` command's output; nil when BIRD does not answer.
    func query(_ arguments: [String]) async -> String? {
        guard process != nil else { return nil }
        let output = paths.directory + "/birdc-\(UUID().uuidString).out"
        defer { try? FileManager.default.removeItem(atPath: output) }
        guard let child = try? ChildProcess.spawn([paths.birdc, "-s", paths.socket] + arguments, outputPath: output),
            await child.exitStatus() == 0
        else { return nil }
        return try? String(contentsOfFile: output, encoding: .utf8)
    }

    /// SIGTERM: BIRD shuts its protocols down (a Cease notification to every peer, which withdraw its routes at
    /// once) and exits; killed after `grace`.
    func stop(grace: Duration = .seconds(5)) async {
        guard let child = process else { return }
        process = nil
        child.signalGroup(SIGTERM)
        let exited = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await child.exitStatusUnlessCancelled() != nil }
            group.addTask {
                try? await self.sleep(grace)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        if !exited {
            child.signalGroup(SIGKILL)
            _ = await child.exitStatus()
        }
    }
}
