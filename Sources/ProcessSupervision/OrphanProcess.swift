public import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A daemon a previous agent started and left running when it was killed outright (outside a container nothing
/// stops its children). Not our child: its exit cannot be awaited, only observed.
public struct OrphanProcess: Sendable {
    public let pid: pid_t

    /// The live process `pidFile` names, if its command line contains `marker` (a reused pid is someone else's).
    public static func find(pidFile: String, marker: String) -> OrphanProcess? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1, isAlive(pid),
            let cmdline = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8),
            cmdline.contains(marker)
        else { return nil }
        return OrphanProcess(pid: pid)
    }

    /// SIGTERM, then SIGKILL once `grace` has passed on `clock`; its process group is killed either way (a
    /// keepalived's VRRP child must not outlive it and hold the VIPs).
    public func stop(grace: Duration = .seconds(2), on clock: any Clock<Duration>) async {
        kill(pid, SIGTERM)
        let step = Duration.milliseconds(20)
        var waited = Duration.zero
        while Self.isAlive(pid), waited < grace {
            try? await clock.sleep(for: step)
            waited += step
        }
        kill(-pid, SIGKILL)
        if Self.isAlive(pid) { kill(pid, SIGKILL) }
    }

    /// Running, and not a zombie (an exited orphan stays one until whoever inherited it reaps it).
    public static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.range(of: ") ", options: .backwards)
        else { return true }
        return stat[end.upperBound...].first != "Z"
    }
}
