import Foundation
import KubeClient

/// The real data plane in the lab: kube-proxy v1.20 (iptables mode) in every node namespace, pods as namespaces
/// behind a veth on their node (198.51.100.16/28 on n1, .32/28 on n2, …), EndpointSlices written by the test
/// (there is no kube-controller-manager). What `../shared/real-kubernetes.md` verified, as a fixture.
extension AgentLab {
    /// The kube-proxy `scripts/lib/deps.sh` builds and caches (`ensure_kube_proxy`); env `KLB_KUBE_PROXY` overrides.
    public static var kubeProxyBinary: String {
        if let path = ProcessInfo.processInfo.environment["KLB_KUBE_PROXY"] { return path }
        let cache =
            ProcessInfo.processInfo.environment["KLB_CACHE"]
            ?? ((ProcessInfo.processInfo.environment["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache"))
                + "/keepalived-lb")
        return cache + "/kube-proxy-v1.20.2-r2"
    }

    public static let podSubnetBase = "198.51.100"
    /// Pods' IPv6 addresses: 2001:db8:100:N::/64 on node nN.
    public static let podSubnetBase6 = "2001:db8:100"

    /// The node's pod gateway (on its side of each pod veth) and the first pod address.
    public func podGateway(_ node: String) -> String {
        "\(Self.podSubnetBase).\(16 * (nodes.firstIndex(of: node)! + 1) + 1)"
    }

    /// The IPv6 pod subnet of a node (its gateway is `::1` in it).
    public func podSubnet6(_ node: String) -> String { "\(Self.podSubnetBase6):\(nodes.firstIndex(of: node)! + 1)::" }

    /// The IPv6 address `startPod(_:on:index:)` gives a pod in a lab with `ipv6`.
    public func podAddress6(on node: String, index: Int = 2) -> String { podSubnet6(node) + String(index) }

    /// Starts kube-proxy on every node, reaching the host's API server through a unix socket (a namespace
    /// cannot reach the host's 127.0.0.1), with routes to the other nodes' pod subnets. Waits until each
    /// answers its health check. In a lab with `ipv6` kube-proxy runs dual-stack (the 1.20 `IPv6DualStack` gate:
    /// iptables and ip6tables), so the control plane must be `TestEnvironment.start(prefix:dualStack:)`'s.
    public func startKubeProxies() async throws {
        let binary = Self.kubeProxyBinary
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw TestEnvironmentError(
                message: "no kube-proxy at \(binary): scripts/test builds it (ensure_kube_proxy)")
        }
        try FileManager.default.createDirectory(atPath: stateRoot, withIntermediateDirectories: true)
        let socket = stateRoot + "/api.sock"
        let port = cluster.apiPort
        helpers.append(
            try ChildProcess.spawn(
                ["socat", "UNIX-LISTEN:\(socket),fork,unlink-early", "TCP:127.0.0.1:\(port)"],
                outputPath: stateRoot + "/socat-host.log"))
        for (index, node) in nodes.enumerated() {
            let ns = netns(node)
            try mustRun(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
            if ipv6 { try mustRun(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]) }
            for (other, otherIndex) in zip(nodes, nodes.indices) where other != node {
                try mustRun([
                    "ip", "-n", ns, "route", "replace", "\(Self.podSubnetBase).\(16 * (otherIndex + 1))/28", "via",
                    "192.0.2.\(11 + otherIndex)",
                ])
                if ipv6 {
                    try mustRun([
                        "ip", "-n", ns, "-6", "route", "replace", podSubnet6(other) + "/64", "via",
                        "2001:db8::\(11 + otherIndex)",
                    ])
                }
            }
            _ = index
            let families =
                ipv6
                ? [
                    "--cluster-cidr", "\(Self.podSubnetBase).0/24,\(Self.podSubnetBase6)::/56", "--feature-gates",
                    "IPv6DualStack=true",
                ]
                : ["--cluster-cidr", "\(Self.podSubnetBase).0/24"]
            helpers.append(
                try ChildProcess.spawn(
                    [
                        "ip", "netns", "exec", ns, "socat", "TCP-LISTEN:\(port),bind=127.0.0.1,fork,reuseaddr",
                        "UNIX-CONNECT:\(socket)",
                    ], outputPath: stateRoot + "/socat-\(node).log"))
            helpers.append(
                try ChildProcess.spawn(
                    [
                        "ip", "netns", "exec", ns, binary, "--kubeconfig", cluster.adminKubeconfig,
                        "--hostname-override", nodeName(node), "--proxy-mode", "iptables",
                    ] + families + [
                        "--conntrack-max-per-core", "0",
                        "--conntrack-tcp-timeout-established", "0", "--conntrack-tcp-timeout-close-wait", "0",
                        "--healthz-bind-address", "0.0.0.0:10256", "--metrics-bind-address", "127.0.0.1:10249",
                    ], outputPath: stateRoot + "/kube-proxy-\(node).log"))
        }
        for node in nodes {
            let ready = try await eventuallyTrue(seconds: 30) {
                (try? runCommand(
                    AgentLab.labNet(in: self.netns(node), ["http-ok", "http://127.0.0.1:10256/healthz"])))?.status == 0
            }
            guard ready else {
                let log = (try? String(contentsOfFile: stateRoot + "/kube-proxy-\(node).log", encoding: .utf8)) ?? ""
                throw TestEnvironmentError(message: "kube-proxy on \(node) never became healthy:\n\(log.suffix(2000))")
            }
        }
    }

    /// A pod: a namespace behind a veth on `node`, serving TCP 8080 with "POD/CLIENT-ADDRESS" (`echo`: echoing what
    /// it is sent, for as long as the connection lasts). Returns its (IPv4) address; in a lab with `ipv6` it has
    /// `podAddress6(on:index:)` too.
    @discardableResult
    public func startPod(_ name: String, on node: String, index: Int = 2, echo: Bool = false) throws -> String {
        let pod = try lab.namespace("pod-\(name)")
        let base = 16 * (nodes.firstIndex(of: node)! + 1)
        let address = "\(Self.podSubnetBase).\(base + index)"
        let hostSide = "p-\(name)"
        try mustRun([
            "ip", "-n", pod, "link", "add", "eth0", "type", "veth", "peer", "name", hostSide, "netns", netns(node),
        ])
        try mustRun(["ip", "-n", pod, "addr", "add", "\(address)/28", "dev", "eth0"])
        try mustRun(["ip", "-n", pod, "link", "set", "eth0", "up"])
        try mustRun(["ip", "-n", pod, "route", "add", "default", "via", podGateway(node)])
        // The gateway on every pod veth of the node, as a /32 with a route per pod (like a CNI's ptp plugin).
        try mustRun(["ip", "-n", netns(node), "addr", "replace", "\(podGateway(node))/32", "dev", hostSide])
        try mustRun(["ip", "-n", netns(node), "link", "set", hostSide, "up"])
        try mustRun(["ip", "-n", netns(node), "route", "replace", "\(address)/32", "dev", hostSide])
        if ipv6 {
            let address6 = podAddress6(on: node, index: index)
            try mustRun(["ip", "-n", pod, "addr", "add", "\(address6)/64", "dev", "eth0", "nodad"])
            try mustRun(["ip", "-n", pod, "-6", "route", "add", "default", "via", podSubnet6(node) + "1"])
            try mustRun([
                "ip", "-n", netns(node), "addr", "replace", podSubnet6(node) + "1/128", "dev", hostSide, "nodad",
            ])
            try mustRun(["ip", "-n", netns(node), "-6", "route", "replace", "\(address6)/128", "dev", hostSide])
        }
        helpers.append(
            try ChildProcess.spawn(
                AgentLab.labNet(in: pod, echo ? ["echo", "8080"] : ["serve", "8080", name, "--peer"]),
                outputPath: "/dev/null"))
        return address
    }

    /// A LoadBalancer Service without a selector (its slice is the test's), port 8080. `dualStack`: IPv4 and
    /// IPv6 (`RequireDualStack`), which needs a dual-stack control plane.
    public func loadBalancer(_ name: String, local: Bool, dualStack: Bool = false) async throws {
        var service = Service()
        service.metadata = ObjectMeta(name: name, namespace: namespace)
        service.spec.type = .loadBalancer
        service.spec.ports = [ServicePort(name: "http", port: 8080, targetPort: 8080)]
        if local { service.spec.externalTrafficPolicy = "Local" }
        if dualStack {
            service.spec.ipFamilyPolicy = .requireDualStack
            service.spec.ipFamilies = ["IPv4", "IPv6"]
        }
        _ = try await admin.create(service)
    }

    /// The Service's first ingress address once the controller has given it one (throws after `seconds`).
    public func awaitIngress(_ service: String, seconds: Double = 20) async throws -> String {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if let address = try await ingress(service) { return address }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestEnvironmentError(message: "\(service) got no address within \(Int(seconds)) s")
    }

    /// Every ingress address of the Service once it has `count` of them (a dual-stack Service: two).
    public func awaitIngresses(_ service: String, count: Int, seconds: Double = 20) async throws -> [String] {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            let ingress = try await admin.get(Service.self, namespace: namespace, name: service).status.loadBalancer
                .ingress.compactMap(\.ip)
            if ingress.count >= count { return ingress }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestEnvironmentError(message: "\(service) got no \(count) addresses within \(Int(seconds)) s")
    }

    /// Writes (creates or replaces) the Service's `discovery.k8s.io/v1beta1` EndpointSlice (what v1.20 serves) of
    /// the endpoints' family: one slice per family, as the EndpointSlice controller writes them.
    public func setEndpoints(_ service: String, _ endpoints: [(address: String, node: String, ready: Bool)])
        async throws
    {
        let isIPv6 = endpoints.first?.address.contains(":") ?? false
        let name = isIPv6 ? "\(service)-slice-v6" : "\(service)-slice"
        var slice = EndpointSliceV1Beta1()
        slice.metadata = ObjectMeta(name: name, namespace: namespace)
        slice.metadata.labels = [EndpointSliceV1Beta1.serviceNameLabel: service]
        slice.json["addressType"] = isIPv6 ? "IPv6" : "IPv4"
        slice.json["ports"] = [["name": "http", "port": 8080, "protocol": "TCP"]]
        slice.endpoints = endpoints.map { endpoint in
            var value = SliceEndpoint(addresses: [endpoint.address], nodeName: nil, ready: endpoint.ready)
            value.json["topology"] = ["kubernetes.io/hostname": .string(nodeName(endpoint.node))]
            return value
        }
        do {
            let existing = try await admin.get(EndpointSliceV1Beta1.self, namespace: namespace, name: name)
            slice.metadata.resourceVersion = existing.metadata.resourceVersion
            _ = try await admin.update(slice)
        } catch {
            guard error.code == .notFound else { throw error }
            _ = try await admin.create(slice)
        }
    }

    /// A listener of the node itself (where a kubelet or sshd would be) on every address: answers "NODE:PORT".
    public func startNodeListener(on node: String, port: Int) throws {
        helpers.append(
            try ChildProcess.spawn(
                AgentLab.labNet(in: netns(node), ["serve", String(port), "\(node):\(port)"]), outputPath: "/dev/null"))
    }

    /// One connection from the client to `vip`:8080 (an echo pod behind it) kept open for `seconds`, a line every
    /// 20 ms; its output ("survived LINES LONGEST_MS" or "ERROR after LINES") goes to `output`.
    public func startHold(_ vip: String, seconds: Double, output: String) throws -> ChildProcess {
        try ChildProcess.spawn(AgentLab.labNet(in: client, ["hold", vip, "8080", String(seconds)]), outputPath: output)
    }

    /// Whether `address` answers an ICMP echo from the client within half a second.
    public func answersPing(_ address: String) -> Bool {
        guard let result = try? runCommand(AgentLab.labNet(in: client, ["ping", address])) else { return false }
        return result.output.contains("pong")
    }

    /// One connection from the client to `vip`:`port`: the answer ("POD/CLIENT-ADDRESS" from a pod), or nil.
    public func ask(_ vip: String, port: Int = 8080) -> String? {
        guard let result = try? runCommand(AgentLab.labNet(in: client, ["ask", vip, String(port)])), result.status == 0
        else { return nil }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func eventuallyTrue(seconds: Double, _ check: @escaping () throws -> Bool) async throws -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if try check() { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }
}
