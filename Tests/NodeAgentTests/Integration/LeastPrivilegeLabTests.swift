import CloudProvider
import Foundation
import IPAM
import InMemoryAPI
import Keepalived
import KubeClient
import LoadBalancerAPI
import TestLab
import TestTraits
import Testing

/// deploy/base/rbac.yaml is exactly what the code needs: the controller, an agent and the kubectl plugin run
/// under its roles on a control plane of their own while every feature that calls the API is exercised, and the
/// API server's audit log must show every request granted and every granted verb used.
@Suite("Least privilege (real kube-apiserver audit log)", .integration, .tags(.integration))
struct LeastPrivilegeLabTests {
    @Test func everyRequestIsGrantedAndEveryGrantIsUsed() async throws {
        let cluster = try await TestEnvironment.start(prefix: "rbac")
        let outcome = await Result { try await Self.exercise(cluster) }
        await cluster.stop()
        let (requests, roles) = try outcome.get()

        for (user, bound) in roles {
            let mine = requests.filter { $0.user == user }
            #expect(!mine.isEmpty, "\(user) made no request")
            let refused = mine.filter { $0.code == 403 }
            #expect(refused.isEmpty, "\(user) was refused (a grant is missing): \(Set(refused.map(\.description)))")
            let unmatched = mine.filter { request in request.code != 403 && !bound.contains { $0.allows(request) } }
            #expect(
                unmatched.isEmpty,
                "\(user) was granted these by something other than deploy/'s roles: \(Set(unmatched.map(\.description)))"
            )
            for grant in bound.flatMap(\.grants) {
                #expect(
                    mine.contains { $0.code != 403 && grant.allows($0) },
                    "\(user) is granted \(grant) and never used it: remove it from deploy/base/rbac.yaml")
            }
        }
    }

    /// Runs everything that calls the API as the three plain users; returns their requests and their rules.
    static func exercise(_ cluster: TestCluster) async throws -> ([AuditedRequest], [String: [BoundRule]]) {
        let lab = try await AgentLab(nodeCount: 1, cluster: cluster)
        let outcome = await Result { try await exercise(lab) }
        // Stopping the agent ends its watches, which the audit log then records.
        await lab.tearDown()
        try outcome.get()
        try await Task.sleep(for: .seconds(1))
        let namespace = lab.namespace
        let requests = try AuditedRequest.read(cluster.auditLog)
        let roles: [String: [BoundRule]] = [
            "klb-controller": try await BoundRule.of(cluster, "keepalived-cloud-provider", namespace: namespace),
            "klb-agent": try await BoundRule.of(cluster, "keepalived-vip-agent", namespace: namespace),
            "klb-viewer": try await BoundRule.of(cluster, "keepalived-lb-viewer", namespace: namespace),
        ]
        return (requests, roles)
    }

    static func exercise(_ lab: AgentLab) async throws {
        let cluster = lab.cluster
        let namespace = lab.namespace
        for resource in ["vippools", "bgppeers"] {
            _ = try await kubectl(
                cluster, ["apply", "-f", TestEnvironment.repositoryRoot + "/deploy/base/\(resource).yaml"])
            _ = try await kubectl(
                cluster, ["wait", "--for=condition=Established", "crd/\(resource).keepalived-lb.io", "--timeout=30s"])
        }
        try await cluster.bindDeployRole("keepalived-cloud-provider", to: "klb-controller", namespace: namespace)
        try await cluster.bindDeployRole("keepalived-lb-viewer", to: "klb-viewer", namespace: namespace)
        try lab.startAgent("n1")

        // A Node a kubelet run with --cloud-provider=external registered: the controller initialises it.
        var fresh = Node()
        fresh.metadata = ObjectMeta(name: "\(namespace)-fresh")
        fresh.spec.taints = [
            Taint(key: "node.cloudprovider.kubernetes.io/uninitialized", value: "true", effect: "NoSchedule")
        ]
        _ = try await lab.admin.create(fresh)

        var pool = VIPPool()
        pool.metadata = ObjectMeta(name: "\(namespace)-pool")
        pool.spec.addresses = ["203.0.113.100/32"]
        pool.spec.autoAssign = false
        try await createRetried(lab.admin, pool)

        let binary = try #require(
            TestEnvironment.builtBinary("keepalived-cloud-provider"), "build the controller first")
        let controller = try ChildProcess.spawn(
            [
                binary, "--kubeconfig", cluster.controllerKubeconfig, "--cidr", "203.0.113.64/27",
                "--namespace", namespace, "--cluster-name", "lab", "--node-selector",
                "keepalived-lb.io/test=\(namespace)",
                "--vrid-range", "10-13", "--vrrp-groups", "4", "--leader-elect", "true", "--initialize-nodes", "true",
                "--leader-elect-retry-period", "1", "--metrics-bind-address", "0", "--health-bind-address", "0",
            ], outputPath: lab.stateRoot + "/controller.log")
        // Stopping releases the Lease (get, update) and ends the watches, which the audit log then records.
        let outcome = await Result { try await exerciseWithController(lab, pool: pool) }
        await controller.stop(grace: .seconds(10))
        if case .failure(let error) = outcome {
            let log = (try? String(contentsOfFile: lab.stateRoot + "/controller.log", encoding: .utf8)) ?? ""
            throw TestEnvironmentError(message: "\(error)\ncontroller log (last lines):\n\(log.suffix(3_000))")
        }
    }

    static func exerciseWithController(_ lab: AgentLab, pool: VIPPool) async throws {
        let cluster = lab.cluster
        let namespace = lab.namespace

        // A Cluster Service, a Local one with an endpoint on n1, one from the named pool of one address.
        try await lab.loadBalancer("web", local: false)
        try await lab.loadBalancer("local", local: true)
        try await lab.setEndpoints("local", [(address: "198.51.100.16", node: "n1", ready: true)])
        try await pooledService(lab, "pooled", pool: pool.metadata.name ?? "")
        for name in ["web", "local", "pooled"] { _ = try await lab.awaitIngress(name, seconds: 30) }
        #expect(
            try await eventually(.seconds(20)) {
                try await lab.admin.get(Node.self, name: "\(namespace)-fresh").spec.providerID != nil
            }, "the fresh Node initialised")

        // The pool is exhausted: the second Service is retried, and its repeated Warning is a patch of the first.
        try await pooledService(lab, "pooled-2", pool: pool.metadata.name ?? "")
        #expect(
            try await eventually(.seconds(30)) {
                try await lab.admin.list(Event.self, namespace: namespace).items.contains {
                    $0.involvedObject.name == "pooled-2" && $0.reason == "AllocationFailed" && ($0.count ?? 0) > 1
                }
            }, "the repeated event was counted")
        // Deleting a Service: its finalizer removed (a patch of the Service), its address to the waiting one.
        try await lab.admin.delete(Service.self, namespace: namespace, name: "pooled")
        _ = try await lab.awaitIngress("pooled-2", seconds: 30)
        // The agent published its state (a patch of its Node) once keepalived ran the plan.
        #expect(
            try await eventually(.seconds(30)) {
                try await lab.admin.get(Node.self, name: lab.nodeName("n1")).metadata.annotations[
                    NodeVRRPState.annotation] != nil
            })

        // A BGPPeer selecting no node of this lab: the controller still writes its status (patch of bgppeers/status).
        var peer = BGPPeer(json: [:])
        peer.metadata = ObjectMeta(name: "\(namespace)-peer")
        peer.spec.peerAddress = "192.0.2.100"
        peer.spec.peerASN = 64512
        peer.spec.localASN = 64513
        var nobody = LabelSelector()
        nobody.matchLabels = ["keepalived-lb.io/test": "\(namespace)-nobody"]
        peer.spec.nodeSelector = nobody
        _ = try await lab.admin.create(peer)
        #expect(
            try await eventually(.seconds(20)) {
                try await lab.admin.get(BGPPeer.self, name: "\(namespace)-peer").status.conditions.first?.reason
                    == "NoNodes"
            }, "the controller wrote the BGPPeer's status")
        try await lab.admin.delete(BGPPeer.self, name: "\(namespace)-peer")

        let plugin = try #require(TestEnvironment.builtBinary("kubectl-keepalived"), "build kubectl-keepalived first")
        for arguments in [["status"], ["render", lab.nodeName("n1"), "--unicast"]] {
            // `status` exits 3 while a Service is unserved (pooled-2's address may still be on its way to the
            // node): the grant is what is tested, so ask again until all is served.
            var last = (status: Int32(-1), output: "")
            let succeeded = try await eventually(.seconds(30)) {
                last = try await runCommandAsync(
                    [plugin] + arguments + ["--kubeconfig", cluster.viewerKubeconfig, "--namespace", namespace])
                return last.status == 0
            }
            #expect(succeeded, "kubectl keepalived \(arguments[0]) as klb-viewer: \(last.status) \(last.output)")
        }

    }

    static func pooledService(_ lab: AgentLab, _ name: String, pool: String) async throws {
        var service = Service()
        service.metadata = ObjectMeta(name: name, namespace: lab.namespace)
        service.metadata.annotations = [VIPPool.serviceAnnotation: pool]
        service.spec.type = .loadBalancer
        service.spec.ports = [ServicePort(name: "http", port: 80, targetPort: 8080)]
        _ = try await lab.admin.create(service)
    }

    static func kubectl(_ cluster: TestCluster, _ arguments: [String]) async throws -> String {
        let (status, output) = try await runCommandAsync(
            ["kubectl", "--kubeconfig", cluster.adminKubeconfig] + arguments)
        guard status == 0 else { throw TestEnvironmentError(message: "kubectl \(arguments): \(output)") }
        return output
    }

    /// A resource just established may still drop the first requests' connection.
    static func createRetried(_ admin: KubernetesClient, _ pool: VIPPool) async throws {
        var attempts = 0
        while (try? await admin.create(pool)) == nil {
            attempts += 1
            guard attempts < 20 else { throw TestEnvironmentError(message: "could not create VIPPool \(pool.key)") }
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}

/// One request of a plain user, as the API server's audit log records it.
struct AuditedRequest: Hashable, CustomStringConvertible {
    var user: String
    var verb: String
    var group: String
    var resource: String
    var namespace: String?
    var name: String?
    var code: Int

    var description: String {
        "\(verb) \(group.isEmpty ? "" : group + "/")\(resource)\(namespace.map { " in \($0)" } ?? "")"
            + "\(name.map { " named \($0)" } ?? "") → \(code)"
    }

    /// Requests on API resources (discovery and other non-resource URLs are everyone's by default).
    static func read(_ path: String) throws -> [AuditedRequest] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let user = (object["user"] as? [String: Any])?["username"] as? String,
                let verb = object["verb"] as? String,
                let reference = object["objectRef"] as? [String: Any],
                let resource = reference["resource"] as? String,
                let code = (object["responseStatus"] as? [String: Any])?["code"] as? Int
            else { return nil }
            let subresource = (reference["subresource"] as? String).map { "/" + $0 } ?? ""
            return AuditedRequest(
                user: user, verb: verb, group: reference["apiGroup"] as? String ?? "", resource: resource + subresource,
                namespace: reference["namespace"] as? String, name: reference["name"] as? String, code: code)
        }
    }
}

/// A rule of a Role (in `namespace`) or a ClusterRole, as the API server holds it.
struct BoundRule {
    var namespace: String?
    var groups: [String]
    var resources: [String]
    var names: [String]
    var verbs: [String]

    /// One verb on one resource: the unit that must be used.
    struct Grant: CustomStringConvertible {
        var rule: BoundRule
        var verb: String
        var resource: String
        var description: String {
            "\(verb) \(resource)\(rule.names.isEmpty ? "" : " named \(rule.names)")"
                + "\(rule.namespace.map { " (Role in \($0))" } ?? " (ClusterRole)")"
        }
        func allows(_ request: AuditedRequest) -> Bool {
            request.verb == verb && request.resource == resource && rule.admits(request)
        }
    }

    var grants: [Grant] {
        verbs.flatMap { verb in resources.map { Grant(rule: self, verb: verb, resource: $0) } }
    }

    func allows(_ request: AuditedRequest) -> Bool {
        verbs.contains(request.verb) && resources.contains(request.resource) && admits(request)
    }

    private func admits(_ request: AuditedRequest) -> Bool {
        groups.contains(request.group) && (namespace == nil || namespace == request.namespace)
            && (names.isEmpty || request.name.map(names.contains) == true)
    }

    /// The rules of ClusterRole `name` and of Role `name` in `namespace` (either may not exist).
    static func of(_ cluster: TestCluster, _ name: String, namespace: String) async throws -> [BoundRule] {
        var rules: [BoundRule] = []
        for (kind, scope) in [("clusterrole", nil), ("role", namespace)] as [(String, String?)] {
            let (status, output) = try await runCommandAsync(
                ["kubectl", "--kubeconfig", cluster.adminKubeconfig, "get", kind, name, "-o", "json"]
                    + (scope.map { ["-n", $0] } ?? []))
            guard status == 0 else { continue }
            let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
            for rule in object?["rules"] as? [[String: Any]] ?? [] {
                rules.append(
                    BoundRule(
                        namespace: scope, groups: rule["apiGroups"] as? [String] ?? [],
                        resources: rule["resources"] as? [String] ?? [],
                        names: rule["resourceNames"] as? [String] ?? [],
                        verbs: rule["verbs"] as? [String] ?? []))
            }
        }
        return rules
    }
}
