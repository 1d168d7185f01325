import Testing

@testable import KubeClient

@Suite("Query escaping")
struct QueryEscapeTests {
    @Test func onlyUnreservedBytesPassUnescaped() {
        #expect(KubernetesClient.queryEscape("app=web,tier in (a b)") == "app%3Dweb%2Ctier%20in%20%28a%20b%29")
        #expect(KubernetesClient.queryEscape("metadata.name=vip-configmap_1~") == "metadata.name%3Dvip-configmap_1~")
        // Non-ASCII letters are not "alphanumerics" to a URL: each UTF-8 byte is escaped.
        #expect(KubernetesClient.queryEscape("é&/") == "%C3%A9%26%2F")
    }
}

@Suite("Request metrics labels")
struct RequestLabelTests {
    @Test(arguments: [
        ("/api/v1/namespaces/kube-system/services/web/status", "services/status"),
        ("/api/v1/namespaces/kube-system/services", "services"),
        ("/api/v1/namespaces/kube-system/configmaps/vip-configmap", "configmaps"),
        ("/api/v1/nodes", "nodes"),
        ("/api/v1/namespaces/team-a", "namespaces"),
        ("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/keepalived-cloud-provider", "leases"),
    ])
    func resourceNotName(path: String, label: String) {
        #expect(KubernetesClient.resourceLabel(path) == label)
    }
}
