public import ArgumentParser
import CloudProvider
import ControllerOptions
import Foundation
import KubeClient

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

    @Option(
        help: ArgumentHelp(
            "VIPPool objects to check with the flags, as JSON: one object, an array or a List (for example "
                + "kubectl create --dry-run=client -o json -f pools.yaml, or kubectl get vippools -o json)."))
    var pools: String?

    @Option(name: .shortAndLong, help: "Output format: table or json.")
    var output: OutputFormat = .table

    public func validate() throws {
        _ = try pool.planner()
    }

    public func run() throws {
        let check = ConfigCheck(
            pool: try pool.pool(environment: ProcessInfo.processInfo.environment), planner: try pool.planner(),
            objects: try pools.map(Self.readPools) ?? [])
        switch output {
        case .table: print(check.text, terminator: "")
        case .json: try printJSON(check)
        }
        if let first = check.errors.first { throw ValidationError(first) }
    }

    static func readPools(_ path: String) throws -> [VIPPool] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("--pools \(path): cannot read the file")
        }
        let value: JSONValue
        do { value = try JSONValue.parse(data) } catch {
            throw ValidationError(
                "--pools \(path): not JSON (\(error)); convert YAML with "
                    + "kubectl create --dry-run=client -o json -f FILE"
            )
        }
        let items: [JSONValue] =
            switch value {
            case .array(let items): items
            case .object(let object) where object["items"]?.arrayValue != nil: object["items"]?.arrayValue ?? []
            default: [value]
            }
        return try items.map { item in
            guard let object = item.objectValue, object["kind"]?.stringValue == VIPPool.resource.kind else {
                throw ValidationError("--pools \(path): every item must be a VIPPool object")
            }
            return VIPPool(json: object)
        }
    }
}
