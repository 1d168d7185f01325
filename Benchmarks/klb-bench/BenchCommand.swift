import ArgumentParser
import BenchSupport

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
            ControllerBench.self, AgentBench.self, FailoverBench.self, E2EBench.self, PlacementBench.self,
            BGPBench.self, ChaosRun.self,
        ]
    )
}
