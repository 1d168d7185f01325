import Foundation
import ProcessSupervision
import Testing

@Suite("OrphanProcess")
struct OrphanProcessTests {
    private func pidFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("orphan-\(UUID()).pid").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A shell running `script` in a process group of its own (what it forks goes with it), a unique marker in
    /// its command line, and a pid file naming it, as a daemon leaves them.
    private struct Daemon {
        let child: ChildProcess
        let marker: String
        let pidFile: String

        /// Kills the group, removes the pid file: for a `defer`, so nothing outlives a failed test.
        func remove() {
            child.signalGroup(SIGKILL)
            try? FileManager.default.removeItem(atPath: pidFile)
        }
    }

    private func daemon(_ script: String) throws -> Daemon {
        let marker = "orphan-marker-\(UUID())"
        let child = try ChildProcess.spawn(
            ["sh", "-c", "\(script) # \(marker)"], outputPath: "/dev/null", newProcessGroup: true)
        do {
            return Daemon(child: child, marker: marker, pidFile: try pidFile("\(child.pid)\n"))
        } catch {
            child.signalGroup(SIGKILL)
            throw error
        }
    }

    /// A pid file outlives its process and pids are reused: only a live process with the daemon's marker in its
    /// command line is the orphan, else the agent would stop a stranger.
    @Test func onlyALiveProcessWhoseCommandLineNamesTheMarkerIsFound() async throws {
        let daemon = try daemon("sleep 30")
        defer { daemon.remove() }

        #expect(OrphanProcess.find(pidFile: daemon.pidFile, marker: daemon.marker)?.pid == daemon.child.pid)
        #expect(OrphanProcess.find(pidFile: daemon.pidFile, marker: "keepalived-\(UUID())") == nil)
        let garbage = try pidFile("not a pid")
        defer { try? FileManager.default.removeItem(atPath: garbage) }
        #expect(OrphanProcess.find(pidFile: garbage, marker: daemon.marker) == nil)
        #expect(OrphanProcess.find(pidFile: daemon.pidFile + ".missing", marker: daemon.marker) == nil)

        daemon.child.signalGroup(SIGKILL)
        _ = await daemon.child.exitStatus()
        #expect(OrphanProcess.find(pidFile: daemon.pidFile, marker: daemon.marker) == nil, "a dead pid is no orphan")
    }

    /// An orphan that ignores SIGTERM still goes once the grace has passed.
    @Test func anOrphanThatIgnoresSIGTERMIsKilledWithItsGroup() async throws {
        let daemon = try daemon("trap '' TERM; sleep 30 & wait")
        defer { daemon.remove() }
        try await Task.sleep(for: .milliseconds(200))
        let orphan = try #require(OrphanProcess.find(pidFile: daemon.pidFile, marker: daemon.marker))

        await orphan.stop(grace: .milliseconds(300), on: ContinuousClock())
        #expect(await daemon.child.exitStatus() == 128 + SIGKILL)
    }

    /// A daemon that goes on SIGTERM but leaves a child in its group (keepalived's VRRP child) leaves nothing.
    @Test func whatTheOrphanLeavesInItsGroupIsKilledToo() async throws {
        let childFile = FileManager.default.temporaryDirectory.appendingPathComponent("orphan-\(UUID()).child").path
        defer { try? FileManager.default.removeItem(atPath: childFile) }
        let daemon = try daemon("trap 'exit 0' TERM; sleep 30 & echo $! > \(childFile); wait")
        defer { daemon.remove() }
        var left: pid_t?
        for _ in 0..<100 where left == nil {
            left = (try? String(contentsOfFile: childFile, encoding: .utf8)).flatMap {
                pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let sleeper = try #require(left)
        defer { kill(sleeper, SIGKILL) }
        let orphan = try #require(OrphanProcess.find(pidFile: daemon.pidFile, marker: daemon.marker))

        await orphan.stop(grace: .seconds(2), on: ContinuousClock())
        #expect(await daemon.child.exitStatus() == 0, "the daemon itself went on SIGTERM")
        var gone = false
        for _ in 0..<100 where !gone {
            gone = !OrphanProcess.isAlive(sleeper)
            if !gone { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(gone, "pid \(sleeper), left in the daemon's group, still runs")
    }
}
