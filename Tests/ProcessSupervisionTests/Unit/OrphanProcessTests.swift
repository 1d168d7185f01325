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
        let child = try ChildProcess.spawn(["sh", "-c", "sleep 30 # \(marker)"], outputPath: "/dev/null")
        defer { child.signal(SIGKILL) }
        let file = try pidFile("\(child.pid)\n")
        defer { try? FileManager.default.removeItem(atPath: file) }

        #expect(OrphanProcess.find(pidFile: file, marker: marker)?.pid == child.pid)
        #expect(OrphanProcess.find(pidFile: file, marker: "keepalived-\(UUID())") == nil)
        let garbage = try pidFile("not a pid")
        defer { try? FileManager.default.removeItem(atPath: garbage) }
        #expect(OrphanProcess.find(pidFile: garbage, marker: marker) == nil)
        #expect(OrphanProcess.find(pidFile: file + ".missing", marker: marker) == nil)

        child.signal(SIGKILL)
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
}
