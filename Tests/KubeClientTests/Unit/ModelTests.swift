import Foundation
import InMemoryAPI
import Testing

@testable import KubeClient

@Suite("Models")
struct ModelTests {
    @Test func unknownFieldsSurviveTypedEdits() throws {
        let text =
            #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s","namespace":"n","managedFields":[{"manager":"other"}]},"spec":{"type":"ClusterIP","futureField":{"x":[1,2.5,true,null]},"ports":[{"port":80,"appProtocol":"http","targetPort":"web"}]},"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.1","ports":[{"port":80}]}]}}}"#
        var service = Service(json: try JSONValue.parse(Array(text.utf8)).objectValue!)
        service.spec.type = .loadBalancer
        service.spec.loadBalancerClass = "example.com/keepalived"
        var ports = service.spec.ports
        ports[0].nodePort = 30080
        service.spec.ports = ports
        service.status.loadBalancer.ingress = [LoadBalancerIngress(ip: "192.0.2.2", ipMode: .vip)]
        service.metadata.finalizers = ["service.kubernetes.io/load-balancer-cleanup"]
        let json = service.json
        #expect(json["spec"]?.objectValue?["futureField"] == ["x": [1, .double(2.5), true, nil]])
        #expect(json["spec"]?.objectValue?["ports"]?.arrayValue?.first?.objectValue?["appProtocol"] == "http")
        #expect(service.spec.ports.first?.targetPort == "web")
        #expect(json["metadata"]?.objectValue?["managedFields"] != nil)
        #expect(service.status.loadBalancer.ingress.map(\.ipMode) == [.vip])
        #expect(service.key == "n/s")
        let roundTrip = Service(json: try JSONValue.parse(Array(try JSONValue.object(json).serialized())).objectValue!)
        #expect(roundTrip == service)
    }

    /// Thousands of keys decoded from the API each brought a copy of a long namespace name; they share one.
    @Test func keysShareOneCopyOfALongNamespaceName() throws {
        func storage(_ text: String?) -> UnsafePointer<UInt8>? {
            text?.utf8.withContiguousStorageIfAvailable { $0.baseAddress } ?? nil
        }
        let decoded = (0..<2).map { _ in ["team-payments-", "production"].joined() }
        #expect(storage(decoded[0]) != storage(decoded[1]), "two separately built strings")
        let first = ObjectKey(namespace: decoded[0], name: "a")
        let second = ObjectKey(namespace: decoded[1], name: "b")
        #expect(first.namespace == "team-payments-production")
        #expect(storage(first.namespace) != nil)
        #expect(storage(first.namespace) == storage(second.namespace))
        #expect(ObjectKey(namespace: "", name: "c").namespace == nil)
    }

    @Test func unsetFieldsAreRemovedNotNulled() {
        var meta = ObjectMeta(name: "a")
        meta.labels = ["k": "v"]
        meta.labels = [:]
        meta.namespace = nil
        #expect(meta.json == ["name": "a"])
    }

    @Test func paths() {
        #expect(
            Service.resource.path(namespace: "ns", name: "a/b", subresource: "status")
                == "/api/v1/namespaces/ns/services/a%2Fb/status")
        #expect(
            Lease.resource.path(namespace: "kube-system")
                == "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases")
        #expect(Node.resource.path(namespace: "ignored", name: "n1") == "/api/v1/nodes/n1")
    }

    @Test func errorClassification() {
        let status = APIStatus(json: ["kind": "Status", "reason": "AlreadyExists", "code": 409, "message": "exists"])
        #expect(KubeError.from(httpStatus: 409, status: status, request: "POST x").code == .alreadyExists)
        #expect(KubeError.from(httpStatus: 409, status: nil, request: "PUT x").code == .conflict)
        #expect(KubeError.from(httpStatus: 403, status: nil, request: "GET x").code == .forbidden)
        #expect(
            KubeError.from(httpStatus: 200, status: APIStatus(json: ["reason": "Expired"]), request: "WATCH").code
                == .gone)
        #expect(KubeError.from(httpStatus: 503, status: nil, request: "GET x").message == "GET x: HTTP 503")
    }

    @Test func times() throws {
        let date = try #require(KubeTime.parse("2026-11-25T08:20:11.123456Z"))
        #expect(KubeTime.format(date, micro: true) == "2026-11-25T08:20:11.123456Z")
        #expect(KubeTime.format(date) == "2026-11-25T08:20:11Z")
        #expect(KubeTime.parse("2026-11-25T10:20:11+02:00") == KubeTime.parse("2026-11-25T08:20:11Z"))
        #expect(KubeTime.parse("yesterday") == nil)
    }

    @Test func rateLimiterHoldsBurstThenQPS() async throws {
        let clock = ManualClock()
        let limiter = RateLimiter(qps: 20, burst: 2, clock: clock)
        // Two free; the third owes 50 ms at 20/s and sleeps it off on the clock.
        try await limiter.acquire()
        try await limiter.acquire()
        let third = Task { try await limiter.acquire() }
        while clock.sleepers == 0 { await Task.yield() }
        clock.advance(by: .milliseconds(49))
        #expect(clock.sleepers == 1, "still owes a millisecond")
        clock.advance(by: .milliseconds(1))
        try await third.value
        // A second later the bucket is full again: two more go at once.
        clock.advance(by: .seconds(1))
        try await limiter.acquire()
        try await limiter.acquire()
        #expect(clock.sleepers == 0)
    }
}
