import IPAM
import KubeClient
import Testing

@testable import CloudProvider

/// The machine alone changes the ledger and the pools: what the restore found and what a VIPPool change does.
@Suite("Service state machine: pools and claims")
struct ServiceStateMachinePoolTests {
    private static let flagPool = try! Pool.parse(name: "lab", ["192.0.2.0/28"]).pool

    private func vipPool(_ name: String, _ addresses: String, terminating: Bool = false) -> VIPPool {
        var object = VIPPool()
        object.metadata = ObjectMeta(name: name)
        if terminating { object.metadata.deletionTimestamp = "2026-12-06T00:00:00Z" }
        object.spec.addresses = [addresses]
        return object
    }

    private func claim(_ name: String, _ address: String, served: Bool = true) throws -> Ledger.Claim {
        .init(
            key: ObjectKey(namespace: "ns", name: name), uid: "uid-\(name)", address: try IPAddress(address),
            forwardMethod: nil, keepOutsidePools: served)
    }

    @Test func claimsFoundFillTheLedgerAndTheLaterClaimOnAnAddressLoses() throws {
        var machine = ServiceStateMachine(configuration: ControllerConfiguration(pool: Self.flagPool))
        let report = machine.claimsFound([try claim("old", "192.0.2.3"), try claim("new", "192.0.2.3")])
        #expect(machine.ledger.owner(of: try IPAddress("192.0.2.3")) == ObjectKey(namespace: "ns", name: "old"))
        #expect(report.conflicts.map(\.claim.key.name) == ["new"])
        #expect(report.conflicts.map(\.holder.name) == ["old"])
    }

    @Test func aNewPoolRefilesHeldAddressesAndKeepsThoseOutsideEveryPool() throws {
        var machine = ServiceStateMachine(configuration: ControllerConfiguration(pool: Self.flagPool))
        _ = machine.claimsFound([try claim("web", "192.0.2.3")])
        let generation = machine.generation
        // The VIPPool resource replaces the flag pool's range with another: web keeps its address, outside.
        let moved = PoolCatalog(flagPool: try Pool.parse(name: "lab", ["198.51.100.0/28"]).pool, objects: [])
        let change = machine.poolsChanged(moved)
        #expect(change.reconfigured && !change.terminatingChanged)
        #expect(machine.catalog.usable.map(\.name) == ["lab"])
        #expect(machine.ledger.outsidePools.map(\.address) == [try IPAddress("192.0.2.3")])
        #expect(machine.generation > generation, "the ConfigMap is written again")
        // The same pools again change nothing.
        let again = machine.poolsChanged(moved)
        #expect(!again.reconfigured && !again.terminatingChanged)
    }

    @Test func aPoolThatStartsTerminatingIsAChangeThatRefilesNothing() throws {
        var machine = ServiceStateMachine(configuration: ControllerConfiguration(pool: Self.flagPool))
        _ = machine.poolsChanged(PoolCatalog(flagPool: Self.flagPool, objects: [vipPool("extra", "198.51.100.0/28")]))
        let generation = machine.generation
        let change = machine.poolsChanged(
            PoolCatalog(flagPool: Self.flagPool, objects: [vipPool("extra", "198.51.100.0/28", terminating: true)]))
        #expect(change.terminatingChanged)
        #expect(!change.reconfigured)
        #expect(machine.generation == generation)
    }
}
