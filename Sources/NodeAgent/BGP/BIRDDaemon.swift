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

    private let clock: any Clock<Duration>

    /// `clock`: what the stop grace and the wait for an orphan to go are measured on.
    init(paths: Paths, networkNamespace: String?, clock: any Clock<Duration> = ContinuousClock()) {
        self.clock = clock
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

    /// A BIRD left by a previous agent that was killed outright still holds this node's sessions and TCP 179, and
    /// no agent controls it: stopped before a new one starts. Returns its pid when there was one.
    func stopOrphan() async -> pid_t? {
        guard process == nil, let orphan = OrphanProcess.find(pidFile: paths.pidFile, marker: paths.config) else {
            return nil
        }
        await orphan.stop(on: clock)
        return orphan.pid
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
        await child.stop(grace: grace, killGroup: true, clock: clock)
    }
}
