import Foundation
import KubeClient
public import ProcessSupervision

/// A top-of-rack router for BGP pools: BIRD 2 in the client's namespace peering with every node (AS 64512 to the
/// nodes' 64513, BFD on), installing what it learns in the client's kernel as multipath routes with an L4 hash,
/// so the client's new connections spread over the announcing nodes.
extension AgentLab {
    /// The lab's switch namespace (pulling a node's cable: `ip -n SWITCH link set v-NODE down`).
    public var switchNamespace: String { "\(lab.prefix)-sw" }

    /// `kubectl apply` of deploy/base/bgppeers.yaml, waiting until the server serves it.
    public func installBGPPeerResource() throws {
        let kubectl = ["kubectl", "--kubeconfig", cluster.adminKubeconfig]
        try mustRun(kubectl + ["apply", "-f", TestEnvironment.repositoryRoot + "/deploy/base/bgppeers.yaml"])
        try mustRun(
            kubectl + ["wait", "--for=condition=Established", "crd/bgppeers.keepalived-lb.io", "--timeout=30s"])
    }

    /// Starts the router (stopped by tear-down). `password`: the TCP MD5 key every session must use.
    @discardableResult
    public func startBGPRouter(password: String? = nil) throws -> ChildProcess {
        let directory = stateRoot + "/router"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var config = "router id 192.0.2.100;\nprotocol device {}\nprotocol bfd {}\n"
        for family in ["ipv4", "ipv6"] {
            config += "protocol kernel { \(family) { export all; }; merge paths on; }\n"
        }
        let numbers = nodes.indices.map { 11 + $0 }
        let neighbors = numbers.map { "192.0.2.\($0)" } + (ipv6 ? numbers.map { "2001:db8::\($0)" } : [])
        for (index, address) in neighbors.enumerated() {
            let family = address.contains(":") ? "ipv6" : "ipv4"
            // A router that takes a node back as soon as it calls again (BIRD waits 60 s after an error by default).
            config += "protocol bgp node\(index) { local as 64512; neighbor \(address) as 64513; bfd on; "
            config += "error wait time 1, 5; connect retry time 1; "
            if let password { config += "password \"\(password)\"; " }
            config += "\(family) { import all; export none; }; }\n"
        }
        try config.write(toFile: directory + "/bird.conf", atomically: true, encoding: .utf8)
        for family in ["ipv4", "ipv6"] {
            try mustRun(["ip", "netns", "exec", client, "sysctl", "-qw", "net.\(family).fib_multipath_hash_policy=1"])
        }
        let router = try ChildProcess.spawn(
            [
                "ip", "netns", "exec", client, "bird", "-f", "-c", directory + "/bird.conf", "-s",
                directory + "/bird.ctl",
            ], outputPath: directory + "/bird.log")
        helpers.append(router)
        return router
    }

    /// The router's next hops for `address` (the kernel route BIRD installed), sorted.
    public func bgpNextHops(_ address: String) throws -> [String] {
        let isIPv6 = address.contains(":")
        let prefix = "\(address)/\(isIPv6 ? 128 : 32)"
        let output = try mustRun(["ip", "-n", client, isIPv6 ? "-6" : "-4", "route", "show", prefix, "proto", "bird"])
        let words = output.split(whereSeparator: \.isWhitespace)
        return zip(words, words.dropFirst()).filter { $0.0 == "via" }.map { String($0.1) }.sorted()
    }
}
