#if canImport(Glibc)
    import Glibc
#endif

/// One JSON line in the `scripts/bench` contract.
public func report(suite: String, name: String, value: Double, unit: String) {
    let rounded = (value * 1000).rounded() / 1000
    print("{\"suite\":\"\(suite)\",\"name\":\"\(name)\",\"value\":\(rounded),\"unit\":\"\(unit)\"}")
    fflush(nil)  // a bench stopped by a timeout still leaves the figures it had
}

/// Peak resident set size of this process in MiB (VmHWM).
public func peakRSSMiB() -> Double {
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

public func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

/// Runs `body` `repeats` times and returns the median wall time in ms.
public func medianMilliseconds(repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    var samples: [Double] = []
    for _ in 0..<repeats {
        let start = ContinuousClock.now
        try body()
        samples.append(milliseconds(ContinuousClock.now - start))
    }
    return samples.sorted()[samples.count / 2]
}
