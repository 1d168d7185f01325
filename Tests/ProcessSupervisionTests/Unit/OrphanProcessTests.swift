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

    /// A pid file outlives its process and pids are reused: only a live process with the daemon's marker in its
    /// command line is the orphan, else the agent would stop a stranger.
    @Test func onlyALiveProcessWhoseCommandLineNamesTheMarkerIsFound() async throws {
        let marker = "orphan-marker-\(UUID())"
        // In a group of its own: the shell forks `sleep`, which must go with it.
        let child = try ChildProcess.spawn(
            ["sh", "-c", "sleep 30 # \(marker)"], outputPath: "/dev/null", newProcessGroup: true)
        defer { child.signalGroup(SIGKILL) }
        let file = try pidFile("\(child.pid)\n")
        defer { try? FileManager.default.removeItem(atPath: file) }

        #expect(OrphanProcess.find(pidFile: file, marker: marker)?.pid == child.pid)
        #expect(OrphanProcess.find(pidFile: file, marker: "keepalived-\(UUID())") == nil)
        let garbage = try pidFile("not a pid")
        defer { try? FileManager.default.removeItem(atPath: garbage) }
        #expect(OrphanProcess.find(pidFile: garbage, marker: marker) == nil)
        #expect(OrphanProcess.find(pidFile: file + ".missing", marker: marker) == nil)

        child.signalGroup(SIGKILL)
        _ = await child.exitStatus()
        #expect(OrphanProcess.find(pidFile: file, marker: marker) == nil, "a dead pid is no orphan")
    }

    /// An orphan that ignores SIGTERM still goes once the grace has passed.
    @Test func anOrphanThatIgnoresSIGTERMIsKilledWithItsGroup() async throws {
        let marker = "orphan-marker-\(UUID())"
        let child = try ChildProcess.spawn(
            ["sh", "-c", "trap '' TERM; sleep 30 & wait # \(marker)"], outputPath: "/dev/null", newProcessGroup: true)
        defer { child.signalGroup(SIGKILL) }
        let file = try pidFile("\(child.pid)")
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await Task.sleep(for: .milliseconds(200))
        let orphan = try #require(OrphanProcess.find(pidFile: file, marker: marker))

        await orphan.stop(grace: .milliseconds(300), on: ContinuousClock())
        #expect(await child.exitStatus() == 128 + SIGKILL)
    }

    /// A daemon that goes on SIGTERM but leaves a child in its group (keepalived's VRRP child) leaves nothing.
    @Test func whatTheOrphanLeavesInItsGroupIsKilledToo() async throws {
        let marker = "orphan-marker-\(UUID())"
        let childFile = FileManager.default.temporaryDirectory.appendingPathComponent("orphan-\(UUID()).child").path
        defer { try? FileManager.default.removeItem(atPath: childFile) }
        let child = try ChildProcess.spawn(
            ["sh", "-c", "trap 'exit 0' TERM; sleep 30 & echo $! > \(childFile); wait # \(marker)"],
            outputPath: "/dev/null", newProcessGroup: true)
        defer { child.signalGroup(SIGKILL) }
        let file = try pidFile("\(child.pid)")
        defer { try? FileManager.default.removeItem(atPath: file) }
        var left: pid_t?
        for _ in 0..<100 where left == nil {
            left = (try? String(contentsOfFile: childFile, encoding: .utf8)).flatMap {
                pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let sleeper = try #require(left)
        defer { kill(sleeper, SIGKILL) }
        let orphan = try #require(OrphanProcess.find(pidFile: file, marker: marker))

        await orphan.stop(grace: .seconds(2), on: ContinuousClock())
        #expect(await child.exitStatus() == 0, "the daemon itself went on SIGTERM")
        var gone = false
        for _ in 0..<100 where !gone {
            gone = !OrphanProcess.isAlive(sleeper)
            if !gone { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(gone, "pid \(sleeper), left in the daemon's group, still runs")
    }
}
