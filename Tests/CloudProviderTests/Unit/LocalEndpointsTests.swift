import KubeClient
import Testing

@testable import CloudProvider

/// The slice informer keeps only versions, so an update's old side and a relisted deletion name only the slice:
/// `LocalEndpoints` must know which Service it belonged to.
@Suite("Local endpoints")
struct LocalEndpointsTests {
    let web = ObjectKey(namespace: "ns", name: "web")
    let api = ObjectKey(namespace: "ns", name: "api")
    let slice = ObjectKey(namespace: "ns", name: "web-abcde")

    @Test func aSliceDeletedByNameAloneLeavesItsService() {
        var endpoints = LocalEndpoints()
        _ = endpoints.serviceChanged(web, isLocal: true)
        let added = endpoints.sliceChanged(slice, service: web, nodes: .init(ready: ["node-a"]))
        #expect(added)
        let deleted = endpoints.sliceChanged(slice, service: nil, nodes: nil)
        #expect(deleted)
        #expect(endpoints.nodes(of: web).isEmpty)
        // A list finds it (the controller checks first that the informer still has it); a later list's copy is
        // older than what is kept.
        let found = endpoints.sliceFound(slice, service: web, nodes: .init(ready: ["node-b"]))
        #expect(found)
        let foundAgain = endpoints.sliceFound(slice, service: web, nodes: .init(ready: ["node-c"]))
        #expect(!foundAgain, "what is kept stays")
        #expect(endpoints.nodes(of: web) == ["node-b"])
    }

    @Test func aSliceRelabelledForAnotherServiceMovesToIt() {
        var endpoints = LocalEndpoints()
        _ = endpoints.serviceChanged(web, isLocal: true)
        _ = endpoints.serviceChanged(api, isLocal: true)
        _ = endpoints.sliceChanged(slice, service: web, nodes: .init(ready: ["node-a"]))
        let moved = endpoints.sliceChanged(slice, service: api, nodes: .init(ready: ["node-a"]))
        #expect(moved)
        #expect(endpoints.nodes(of: web).isEmpty)
        #expect(endpoints.nodes(of: api) == ["node-a"])
        // Relabelled for a Cluster Service: it leaves the Local one and is not kept.
        let leftForACluster = endpoints.sliceChanged(
            slice, service: ObjectKey(namespace: "ns", name: "cluster"), nodes: .init())
        #expect(leftForACluster)
        #expect(endpoints.nodes(of: api).isEmpty)
        let deletedAgain = endpoints.sliceChanged(slice, service: nil, nodes: nil)
        #expect(!deletedAgain, "nothing left to remove")
    }

    @Test func aServiceThatStopsBeingLocalForgetsItsSlices() {
        var endpoints = LocalEndpoints()
        _ = endpoints.serviceChanged(web, isLocal: true)
        _ = endpoints.sliceChanged(slice, service: web, nodes: .init(ready: ["node-a"]))
        let stopped = endpoints.serviceChanged(web, isLocal: false)
        #expect(stopped)
        _ = endpoints.serviceChanged(web, isLocal: true)
        // Its slice was forgotten with it, so a list fills it in again.
        #expect(endpoints.nodes(of: web).isEmpty)
        let refilled = endpoints.sliceFound(slice, service: web, nodes: .init(ready: ["node-a"]))
        #expect(refilled)
    }
}
