public import ArgumentParser
import ControllerOptions
import Foundation
import OperatorCLI

/// `kubectl keepalived check-config`: the controller's own flag reading, offline.
public struct CheckConfigCommand: ParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate controller settings offline and print the pools, their sizes and the VRRP instances.",
        discussion: "Takes the controller's pool flags (and KEEPALIVED_SERVICE_CIDR, as the controller does). "
            + "Exits 2 with the reason when the controller would refuse them."
    )

    @OptionGroup(title: "Pool and VRRP plan (as keepalived-cloud-provider)")
    var pool: PoolOptions

    @Option(name: .shortAndLong, help: "Output format: table or json.")
    var output: OutputFormat = .table

    public func validate() throws {
        _ = try pool.planner()
    }

    public func run() throws {
        let check = ConfigCheck(
            pool: try pool.pool(environment: ProcessInfo.processInfo.environment), planner: try pool.planner())
        switch output {
        case .table: print(check.text, terminator: "")
        case .json: try printJSON(check)
        }
    }
}
