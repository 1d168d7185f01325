import IPAM
import NodeNetwork
import TestLab
import TestTraits
import Testing

/// The address manager against the kernel, inside a namespace each test creates.
@Suite("Netlink address manager in a network namespace", .integration, .tags(.integration))
struct AddressManagerTests {
    /// The longest matching route, its interface and gateway: what tells a pod on this node (a bridge, no gateway)
    /// from another node's (through a gateway) and a client on the node's own link.
    @Test func routesNameTheInterfaceAndGatewayOfTheLongestMatch() throws {
        let lab = try NetworkLab()
        defer { lab.tearDown() }
        let ns = try lab.namespace("rt")
        try mustRun(["ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"])
        try mustRun(["ip", "-n", ns, "link", "add", "cni0", "type", "bridge"])
        for link in ["eth0", "eth0p", "cni0"] { try mustRun(["ip", "-n", ns, "link", "set", link, "up"]) }
        try mustRun(["ip", "-n", ns, "addr", "add", "192.0.2.11/24", "dev", "eth0"])
        try mustRun(["ip", "-n", ns, "addr", "add", "2001:db8::11/64", "dev", "eth0", "nodad"])
        try mustRun(["ip", "-n", ns, "addr", "add", "198.51.100.1/26", "dev", "cni0"])
        try mustRun(["ip", "-n", ns, "route", "add", "198.51.100.64/26", "via", "192.0.2.12"])
        try mustRun(["ip", "-n", ns, "route", "add", "198.51.100.70/32", "dev", "cni0"])
        try mustRun(["ip", "-n", ns, "route", "add", "2001:db8:1::/64", "via", "2001:db8::12"])

        let netlink = try AddressManager(networkNamespace: ns)
        let (eth0, cni0) = (try netlink.link(named: "eth0"), try netlink.link(named: "cni0"))
        let addresses =
            try ["198.51.100.3", "198.51.100.66", "198.51.100.70", "192.0.2.250", "203.0.113.9"]
            .map { try IPAddress($0) } + [try IPAddress("2001:db8:1::5"), try IPAddress("2001:db8::250")]
        let routes = try netlink.routes(toward: Set(addresses))
        #expect(routes[addresses[0]] == Route(interfaceIndex: cni0.index, gateway: nil))
        #expect(routes[addresses[1]] == Route(interfaceIndex: eth0.index, gateway: try IPAddress("192.0.2.12")))
        #expect(routes[addresses[2]] == Route(interfaceIndex: cni0.index, gateway: nil), "the longest match wins")
        #expect(routes[addresses[3]] == Route(interfaceIndex: eth0.index, gateway: nil))
        #expect(routes[addresses[4]] == nil, "no default route here")
        #expect(routes[addresses[5]] == Route(interfaceIndex: eth0.index, gateway: try IPAddress("2001:db8::12")))
        #expect(routes[addresses[6]] == Route(interfaceIndex: eth0.index, gateway: nil))
        #expect(routes[addresses[0]]?.reachesALocalPod(besides: eth0) == true)
        #expect(routes[addresses[1]]?.reachesALocalPod(besides: eth0) == false)
        #expect(routes[addresses[3]]?.reachesALocalPod(besides: eth0) == false)
    }

    @Test func addIsIdempotentRemoveToleratesAbsenceAndListingSeesBoth() throws {
        let lab = try NetworkLab()
        defer { lab.tearDown() }
        let ns = try lab.namespace("nl")
        try mustRun(["ip", "-n", ns, "link", "add", "vip0", "type", "veth", "peer", "name", "vip0p"])
        try mustRun(["ip", "-n", ns, "link", "set", "vip0p", "up"])
        try mustRun(["ip", "-n", ns, "link", "set", "vip0", "up"])
        try mustRun(["ip", "-n", ns, "addr", "add", "192.0.2.10/24", "dev", "vip0"])

        let netlink = try AddressManager(networkNamespace: ns)
        let link = try netlink.link(named: "vip0")
        #expect(try netlink.link(holding: IPAddress("192.0.2.10")) == link)

        let v4 = try IPAddress("198.51.100.7")
        let v6 = try IPAddress("2001:db8::7")
        try netlink.add(v4, to: link)
        try netlink.add(v4, to: link)  // already there: success
        try netlink.add(v6, to: link)
        let listed = try netlink.addresses(on: link)
        #expect(listed.contains { $0.address == v4 && $0.prefixLength == 32 })
        #expect(listed.contains { $0.address == v6 && $0.prefixLength == 128 && !$0.isTentative }, "VIPs skip DAD")
        // The outside view agrees.
        #expect(Set(try lab.addresses(in: ns, interface: "vip0")).isSuperset(of: ["198.51.100.7", "2001:db8::7"]))

        try netlink.replace(v4, prefixLength: 24, on: link)
        #expect(try netlink.addresses(on: link).contains { $0.address == v4 && $0.prefixLength == 24 })

        try netlink.remove(v4, prefixLength: 24, from: link)
        try netlink.remove(v4, from: link)  // absent: success
        try netlink.remove(v6, from: link)
        #expect(try lab.addresses(in: ns, interface: "vip0").filter { !$0.hasPrefix("fe80:") } == ["192.0.2.10"])
    }

    @Test func errorsAreTypedAndNamed() throws {
        let lab = try NetworkLab()
        defer { lab.tearDown() }
        let ns = try lab.namespace("err")
        let netlink = try AddressManager(networkNamespace: ns)
        #expect {
            try netlink.link(named: "nope0")
        } throws: { error in
            (error as? NodeNetworkError)?.code == .noSuchInterface && "\(error)".contains("nope0")
        }
        #expect(throws: NodeNetworkError.self) { try netlink.link(holding: IPAddress("203.0.113.99")) }
        let ghost = Link(index: 9999, name: "ghost")
        #expect {
            try netlink.add(IPAddress("203.0.113.5"), to: ghost)
        } throws: { error in
            guard let error = error as? NodeNetworkError else { return false }
            return error.libnlCode != 0 && error.message.contains("203.0.113.5")
        }
        #expect {
            try AddressManager(networkNamespace: "klbt-does-not-exist")
        } throws: { ($0 as? NodeNetworkError)?.code == .noSuchNamespace }
        #expect(throws: NodeNetworkError.self) {
            try netlink.add(IPAddress("203.0.113.5"), prefixLength: 40, to: ghost)
        }
    }
}
