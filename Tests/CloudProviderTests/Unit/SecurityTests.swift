import Foundation
import IPAM
import Keepalived
import TestLab
import Testing

/// The claims of SECURITY.md that are about what we ship (manifests, keepalived.conf); the
/// behavioural ones are proven where the behaviour is tested (each claim names its test).
@Suite("SECURITY.md claims")
struct SecurityTests {
    static func manifest(_ name: String) throws -> String {
        try String(contentsOfFile: TestEnvironment.repositoryRoot + "/deploy/base/" + name, encoding: .utf8)
    }

    /// Nothing we ship binds cluster-admin, grants wildcards, or touches Secrets; ConfigMap and
    /// Lease writes are a namespaced Role, not cluster-wide.
    @Test func rbacIsLeastPrivilege() throws {
        let rbac = try Self.manifest("rbac.yaml")
        #expect(!rbac.contains("cluster-admin"))
        #expect(!rbac.contains("\"*\"") && !rbac.contains("'*'") && !rbac.contains("[*]"))
        #expect(!rbac.contains("secrets"))
        let documents = rbac.components(separatedBy: "\n---")
        for document in documents where document.contains("configmaps") || document.contains("leases") {
            // The viewer's ClusterRole reads the VIP ConfigMap by name, in whichever namespace it is bound.
            guard !document.contains("name: keepalived-lb-viewer") else { continue }
            #expect(document.contains("kind: Role\n"), "ConfigMap and Lease rights are namespaced:\n\(document)")
        }
        // The agent reads and patches Nodes (its published state) and reads BGPPeers; nothing else cluster-wide.
        let agentRole = try #require(
            documents.first { $0.contains("kind: ClusterRole\n") && $0.contains("name: keepalived-vip-agent") })
        #expect(
            agentRole.contains(#"resources: ["nodes"]"#)
                && agentRole.contains(#"verbs: ["list", "watch", "patch"]"#))
        #expect(agentRole.contains(#"resources: ["bgppeers"]"#) && agentRole.contains(#"verbs: ["list", "watch"]"#))
        #expect(agentRole.components(separatedBy: "resources:").count == 3, "two rules only")
    }

    /// The controller runs as an unprivileged user with nothing added; the agent adds exactly the
    /// capabilities VRRP and VIPs need and is never privileged.
    @Test func containersAskForNoMoreThanTheyUse() throws {
        let controller = try Self.manifest("controller.yaml")
        #expect(controller.contains("runAsNonRoot: true") && controller.contains("readOnlyRootFilesystem: true"))
        #expect(controller.contains(#"capabilities: {drop: ["ALL"]}"#) && !controller.contains("add:"))
        #expect(controller.contains("allowPrivilegeEscalation: false"))
        let agent = try Self.manifest("agent.yaml")
        #expect(agent.contains(#"capabilities: {add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"]}"#))
        for manifest in [controller, agent] {
            #expect(
                !manifest.contains("privileged: true") && !manifest.contains("hostPID")
                    && !manifest.contains("SYS_ADMIN"))
        }
    }

    /// keepalived runs no scripts: the rendered configuration has no script, notify command or
    /// checker, only the notify FIFO the agent reads, and script security is on.
    @Test func keepalivedConfigurationRunsNothing() throws {
        let plan = try VRRPPlanner(cluster: "fcp", vrids: VRIDRange(parsing: "50-53"), groups: 4)
            .plan(addresses: ["203.0.113.65", "2001:db8::65"].map { try IPAddress($0) }, nodes: ["a", "b"])
        let node = try NodeSettings(
            nodeName: "a", interface: "eth0", sourceAddresses: [], unicastPeers: [], notifyFIFO: "/run/x/notify.fifo")
        let config = KeepalivedConfig.render(plan: plan, node: node)
        #expect(config.contains("enable_script_security") && config.contains("script_user nobody"))
        for line in config.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let keyword = line.split(separator: " ").first.map(String.init) ?? ""
            #expect(
                ![
                    "vrrp_script", "track_script", "notify", "notify_master", "notify_backup", "notify_fault",
                    "notify_stop",
                    "virtual_server", "real_server", "MISC_CHECK", "smtp_alert", "include",
                ].contains(keyword), "\(line)")
        }
    }
}
