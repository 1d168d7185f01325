import ArgumentParser

#if canImport(Glibc)
    import Glibc
#endif

/// Benchmarks behind `scripts/bench`; each case runs in its own process so peak RSS is its own.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "klb-bench",
        abstract: "Measure one benchmark case and print JSON lines {suite,name,value,unit}.",
        subcommands: [
            IPAMBench.self, ControllerBench.self, AgentBench.self, FailoverBench.self, E2EBench.self, ChaosRun.self,
        ]
    )
}

/// One JSON line in the `scripts/bench` contract.
func report(suite: String, name: String, value: Double, unit: String) {
    let rounded = (value * 1000).rounded() / 1000
    print("{\"suite\":\"\(suite)\",\"name\":\"\(name)\",\"value\":\(rounded),\"unit\":\"\(unit)\"}")
    fflush(nil)  // a bench stopped by a timeout still leaves the figures it had
}

/// Peak resident set size of this process in MiB (VmHWM).
func peakRSSMiB() -> Double {
    // Read with libc: Foundation alone would add about 8 MiB to the figure being measured.
    let fd = open("/proc/self/status", O_RDONLY)
    guard fd >= 0 else { return .nan }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 16384)
    let length = read(fd, &buffer, buffer.count)
    guard length > 0 else { return .nan }
    let status = String(decoding: buffer[0..<length], as: UTF8.self)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return .nan }
    return kib / 1024
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

/// Runs `body` `repeats` times and returns the median wall time in ms.
func medianMilliseconds(repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    var samples: [Double] = []
    for _ in 0..<repeats {
        let start = ContinuousClock.now
        try body()
        samples.append(milliseconds(ContinuousClock.now - start))
    }
    return samples.sorted()[samples.count / 2]
}
