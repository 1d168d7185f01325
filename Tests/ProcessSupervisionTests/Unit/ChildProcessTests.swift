import Foundation
import InMemoryAPI
import ProcessSupervision
import Testing

@Suite("ChildProcess")
struct ChildProcessTests {
    private func output(_ arguments: [String]) async throws -> (status: Int32, text: String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID()).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let child = try ChildProcess.spawn(arguments, outputPath: path)
        let status = await child.exitStatus()
        return (status, try String(contentsOfFile: path, encoding: .utf8))
    }

    @Test func exitStatusAndOutputAreThoseOfTheChild() async throws {
        let result = try await output(["sh", "-c", "echo out; echo err >&2; exit 3"])
        #expect(result.status == 3)
        #expect(result.text == "out\nerr\n")
    }

    /// A descriptor the parent holds without close-on-exec (a listener, an API connection) must not
    /// reach the child: keepalived would keep the agent's port bound after the agent died.
    @Test func descriptorsOtherThanStdioAreNotInherited() async throws {
        let inheritable = open("/dev/null", O_RDONLY)
        #expect(inheritable > 2)
        defer { close(inheritable) }
        let result = try await output(["sh", "-c", "ls /proc/self/fd"])
        #expect(result.status == 0)
        let descriptors = result.text.split(separator: "\n").compactMap { Int32($0) }
        #expect(descriptors.contains(1))
        #expect(!descriptors.contains(inheritable), "fd \(inheritable) leaked into the child: \(descriptors)")
    }

    /// Threads of the parent block signals; the child must start with none blocked or it could
    /// never be told to stop.
    @Test func childStartsWithNoSignalBlockedAndStopsOnSIGTERM() async throws {
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGTERM)
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let masks = try await output(["sh", "-c", "grep SigBlk /proc/self/status"])
        #expect(
            masks.text.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("0000000000000000"), "\(masks.text)")

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID()).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let sleeper = try ChildProcess.spawn(["sleep", "30"], outputPath: path)
        sleeper.signal(SIGTERM)
        #expect(await sleeper.exitStatus() == 128 + SIGTERM)
    }

    /// Once one waiter has reaped the child, every other way of asking must still see the exit:
    /// the supervisor's stop polled a reaped pid and always waited out its whole grace period.
    @Test func anExitReapedByOneWaiterIsSeenByEveryOther() async throws {
        let child = try ChildProcess.spawn(["sh", "-c", "exit 7"], outputPath: "/dev/null")
        #expect(await child.exitStatus() == 7)
        #expect(child.hasExited() == 7, "the non-blocking check sees the exit the async waiter reaped")
        #expect(child.waitBlocking() == 7)
        #expect(await child.exitStatus() == 7, "a second async waiter is answered at once")

        let polled = try ChildProcess.spawn(["sh", "-c", "exit 5"], outputPath: "/dev/null")
        while polled.hasExited() == nil { try await Task.sleep(for: .milliseconds(5)) }
        #expect(await polled.exitStatus() == 5, "the async waiter sees the exit the poll reaped")
    }

    /// `stop` returns once the child is gone, not after its grace period.
    @Test func stopReturnsWhenTheChildHasExitedNotAfterTheGrace() async throws {
        let child = try ChildProcess.spawn(["sleep", "30"], outputPath: "/dev/null")
        async let watched = child.exitStatus()
        let clock = ContinuousClock()
        var clean = false
        let elapsed = await clock.measure { clean = await child.stop(grace: .seconds(60)) }
        #expect(await watched == 128 + SIGTERM)
        #expect(clean)
        #expect(elapsed < .seconds(30), "stop took \(elapsed) with a 60 s grace")
    }

    /// The grace is measured on the clock it is given: a child that ignores SIGTERM is killed when that clock
    /// passes the grace, not when real time does (the stop polled `usleep` on the real clock before).
    @Test(.timeLimit(.minutes(1)))
    func aChildThatIgnoresSIGTERMIsKilledWhenTheInjectedClockPassesTheGrace() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID()).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let child = try ChildProcess.spawn(
            ["sh", "-c", "trap '' TERM; echo ready; exec sleep 30"], outputPath: path)
        while (try? String(contentsOfFile: path, encoding: .utf8))?.contains("ready") != true {
            try await Task.sleep(for: .milliseconds(5))
        }
        let clock = ManualClock()
        async let clean = child.stop(grace: .seconds(3600), clock: clock)
        while clock.sleepers == 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(child.hasExited() == nil, "SIGTERM is ignored: still running while the clock stands")
        clock.advance(by: .seconds(3600))
        #expect(await clean == false)
        #expect(await child.exitStatus() == 128 + SIGKILL)
    }

    /// A supervisor that shuts down stops watching at once; the child keeps running and its exit
    /// is still seen by anyone who asks later.
    @Test func aCancelledWatchEndsAtOnceAndLeavesTheChildAlone() async throws {
        let child = try ChildProcess.spawn(["sleep", "30"], outputPath: "/dev/null")
        let watch = Task { await child.exitStatusUnlessCancelled() }
        try await Task.sleep(for: .milliseconds(50))
        watch.cancel()
        #expect(await watch.value == nil)
        #expect(child.hasExited() == nil, "still running")
        child.signal(SIGTERM)
        #expect(await child.exitStatusUnlessCancelled() == 128 + SIGTERM)
    }

    @Test func aMissingProgramIsAnErrorNamingIt() {
        #expect {
            _ = try ChildProcess.spawn(["/nonexistent/keepalived", "-n"], outputPath: "/dev/null")
        } throws: { error in
            // The errno text comes from posix_spawn's return value, not from errno.
            "\(error)"
                == "SpawnFailed: cannot start /nonexistent/keepalived -n: No such file or directory; check the path "
                + "and permissions"
        }
    }
}
