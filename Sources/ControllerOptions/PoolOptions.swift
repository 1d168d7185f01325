public import ArgumentParser
import CloudProvider
import Foundation
public import IPAM
public import Keepalived
public import Logging

/// The flags that decide a cluster's addresses and VRRP plan, shared by the controller and
/// `kubectl keepalived check-config` so both read an operator's settings the same way.
public struct PoolOptions: ParsableArguments, Sendable {
    @Option(help: "Name of this cluster, used in logs, events and the VRRP instance names.")
    public var clusterName = "kubernetes"

    @Option(
        name: .customLong("cidr"),
        help: "Pool entry (CIDR, a-b range or address). Repeatable. Env: KEEPALIVED_SERVICE_CIDR.")
    public var cidrs: [String] = []

    @Option(name: .customLong("exclude"), help: "Address, range or CIDR never to hand out. Repeatable.")
    public var exclusions: [String] = []

    @Flag(
        name: .customLong("avoid-buggy-ips"),
        help: "Skip IPv4 addresses ending in .0 or .255 (some routers mishandle them).")
    public var avoidBuggyIPs = false

    @Option(
        help: ArgumentHelp(
            "VRRP router IDs this cluster may use, N-M within 1-255. Clusters sharing an L2 segment need disjoint "
                + "ranges. The default stays clear of kube-keepalived-vip's VRID 50, so both can run during a "
                + "migration.")
    )
    public var vridRange = ControllerConfiguration.defaultVRIDRange

    @Option(help: "Number of VRRP instances the VIPs are spread over (at most the size of --vrid-range).")
    public var vrrpGroups = 8

    public init() {}

    /// The pool from `--cidr`, else from the predecessor's `KEEPALIVED_SERVICE_CIDR` (comma list);
    /// entries written with host bits are used as their network, with a warning.
    public func pool(environment: [String: String], logger: Logger? = nil) throws -> Pool {
        var entries = cidrs
        var source = "--cidr"
        if entries.isEmpty, let legacy = environment["KEEPALIVED_SERVICE_CIDR"] {
            entries = legacy.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
            source = "env KEEPALIVED_SERVICE_CIDR"
        }
        guard !entries.isEmpty else {
            throw ValidationError(
                "no address pool: give --cidr (repeatable) or set KEEPALIVED_SERVICE_CIDR, e.g. --cidr 10.210.1.64/26")
        }
        for exclusion in exclusions {
            do { _ = try Pool.parse([exclusion]) } catch { throw ValidationError("--exclude: \(error.message)") }
        }
        let parsed: (pool: Pool, droppedHostBits: [String])
        do {
            parsed = try Pool.parse(
                name: clusterName, entries, excluding: exclusions, options: .init(avoidBuggyIPs: avoidBuggyIPs))
        } catch {
            throw ValidationError("\(source): \(error.message)")
        }
        for text in parsed.droppedHostBits {
            logger?.warning(
                "pool entry has host bits set; using its network",
                metadata: ["cidr": "\(text)", "used": "\((try? CIDR(text))?.description ?? text)"])
        }
        return parsed.pool
    }

    /// The VRRP planner for `--vrid-range` and `--vrrp-groups`.
    public func planner() throws -> VRRPPlanner {
        do {
            let vrids: VRIDRange
            do { vrids = try VRIDRange(parsing: vridRange) } catch {
                throw ValidationError("--vrid-range: \(error.message)")
            }
            return try VRRPPlanner(cluster: clusterName, vrids: vrids, groups: vrrpGroups)
        } catch let error as KeepalivedError {
            throw ValidationError(error.code == .invalidName ? "--cluster-name: \(error.message)" : error.message)
        }
    }
}
