public import Foundation

/// The pids of processes whose first argument (the executable) ends in `executable` and one of whose arguments
/// satisfies `argument`, read from /proc; `zombies: false` leaves out those that exited and were not reaped yet.
/// How a test finds a daemon an agent started (BIRD, conntrackd) by the file it was given.
public func processes(
    _ executable: String, zombies: Bool = true, withArgument argument: (Substring) -> Bool
) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { pid_t($0) }.filter { pid in
        guard let cmdline = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8) else { return false }
        let arguments = cmdline.split(separator: "\0")
        guard arguments.first?.hasSuffix(executable) == true, arguments.contains(where: argument) else { return false }
        if zombies { return true }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        return !stat.contains(") Z")
    }.sorted()
}
