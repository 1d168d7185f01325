import CNetlink
import Errors
import Foundation
public import IPAM
import Synchronization

/// The one owner of a NETLINK_ROUTE socket: adds, replaces, removes and lists interface
/// addresses. libnl sockets are not thread-safe, so every call holds the lock.
public final class AddressManager: @unchecked Sendable {
    private let socket: OpaquePointer
    private let lock = Mutex(())

    /// `networkNamespace`: a name under /run/netns whose interfaces to manage instead of this
    /// process's own (sandboxes and tests; a DaemonSet on the host network leaves it nil).
    public init(networkNamespace: String? = nil) throws(NodeNetworkError) {
        guard let socket = nl_socket_alloc() else {
            throw NodeNetworkError(.failed, "cannot allocate a netlink socket (out of memory)")
        }
        let connect = { () throws(NodeNetworkError) in
            let result = nl_connect(socket, NETLINK_ROUTE)
            guard result >= 0 else { throw NodeNetworkError(libnl: result, "connecting to rtnetlink") }
        }
        do {
            if let networkNamespace {
                try Self.inNamespace(networkNamespace, connect)
            } else {
                try connect()
            }
        } catch {
            nl_socket_free(socket)
            throw error
        }
        // Assigned last: a class whose init throws after this point would also run deinit.
        self.socket = socket
    }

    deinit {
        nl_close(socket)
        nl_socket_free(socket)
    }

    /// The socket takes the namespace of the thread that creates it; the thread switches there
    /// and back without suspending, so no other work runs in between.
    static func inNamespace(_ name: String, _ body: () throws(NodeNetworkError) -> Void) throws(NodeNetworkError) {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw NodeNetworkError(
                .noSuchNamespace, "network namespace name \"\(name.prefix(64))\" is not a plain name under /run/netns")
        }
        let target = open("/run/netns/\(name)", O_RDONLY | O_CLOEXEC)
        guard target >= 0 else {
            let failure = SystemCallError("network namespace \(name)")
            throw NodeNetworkError(.noSuchNamespace, "\(failure) (expected /run/netns/\(name))")
        }
        defer { close(target) }
        let original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else {
            throw NodeNetworkError(.failed, "\(SystemCallError("cannot open this thread's network namespace"))")
        }
        defer { close(original) }
        guard cnetlink_enter_netns(target) == 0 else {
            let failure = SystemCallError("entering network namespace \(name)")
            throw NodeNetworkError(failure.errnoCode == EPERM ? .permissionDenied : .failed, "\(failure)")
        }
        defer {
            // Staying in the wrong namespace would silently misroute this thread's later work.
            if cnetlink_enter_netns(original) != 0 {
                fatalError("\(SystemCallError("cannot return to the original network namespace"))")
            }
        }
        try body()
    }

    private func locked<T: Sendable>(_ body: () throws(NodeNetworkError) -> T) throws(NodeNetworkError) -> T {
        try lock.withLock { _ throws(NodeNetworkError) -> T in try body() }
    }

    public func link(named name: String) throws(NodeNetworkError) -> Link {
        try locked { () throws(NodeNetworkError) -> Link in
            var link: OpaquePointer?
            let result = rtnl_link_get_kernel(socket, 0, name, &link)
            guard result >= 0, let link else {
                if result == -NLE_NODEV || result == -NLE_OBJ_NOTFOUND || result == 0 {
                    throw NodeNetworkError(
                        .noSuchInterface, libnlCode: abs(result),
                        "no interface named \"\(name.prefix(32))\" on this node; check --interface")
                }
                throw NodeNetworkError(libnl: result, "looking up interface \(name.prefix(32))")
            }
            defer { rtnl_link_put(link) }
            return Link(index: rtnl_link_get_ifindex(link), name: name)
        }
    }

    /// The interface's hardware (MAC) address: what a gratuitous ARP or unsolicited NA names.
    public func hardwareAddress(of link: Link) throws(NodeNetworkError) -> [UInt8] {
        try locked { () throws(NodeNetworkError) -> [UInt8] in
            var object: OpaquePointer?
            let result = rtnl_link_get_kernel(socket, link.index, nil, &object)
            guard result >= 0, let object else { throw NodeNetworkError(libnl: result, "looking up \(link)") }
            defer { rtnl_link_put(object) }
            guard let address = rtnl_link_get_addr(object), let bytes = nl_addr_get_binary_addr(address) else {
                throw NodeNetworkError(.noSuchInterface, "\(link) has no hardware address")
            }
            return Array(UnsafeRawBufferPointer(start: bytes, count: Int(nl_addr_get_len(address))))
        }
    }

    /// The interface that carries `address` (the node's IP), for the default `--interface`.
    public func link(holding address: IPAddress) throws(NodeNetworkError) -> Link {
        guard let match = try addresses().first(where: { $0.address == address }) else {
            throw NodeNetworkError(
                .noSuchInterface, "no interface holds \(address); pass --interface or check the node's address")
        }
        return try locked { () throws(NodeNetworkError) -> Link in
            var buffer = [CChar](repeating: 0, count: 64)
            var cache: OpaquePointer?
            let result = rtnl_link_alloc_cache(socket, AF_UNSPEC, &cache)
            guard result >= 0, let cache else { throw NodeNetworkError(libnl: result, "listing interfaces") }
            defer { nl_cache_free(cache) }
            guard rtnl_link_i2name(cache, match.interfaceIndex, &buffer, buffer.count) != nil else {
                throw NodeNetworkError(
                    .noSuchInterface, "interface #\(match.interfaceIndex) holding \(address) vanished")
            }
            return Link(
                index: match.interfaceIndex,
                name: String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    /// Every interface of the node (the namespace), by name.
    public func links() throws(NodeNetworkError) -> [Link] {
        try locked { () throws(NodeNetworkError) -> [Link] in
            var cache: OpaquePointer?
            let result = rtnl_link_alloc_cache(socket, AF_UNSPEC, &cache)
            guard result >= 0, let cache else { throw NodeNetworkError(libnl: result, "listing interfaces") }
            defer { nl_cache_free(cache) }
            var found: [Link] = []
            var object = nl_cache_get_first(cache)
            while let current = object {
                if let name = rtnl_link_get_name(current) {
                    found.append(Link(index: rtnl_link_get_ifindex(current), name: String(cString: name)))
                }
                object = nl_cache_get_next(current)
            }
            return found.sorted { $0.name < $1.name }
        }
    }

    /// Every address of every interface, or of one.
    public func addresses(on link: Link? = nil) throws(NodeNetworkError) -> [InterfaceAddress] {
        try locked { () throws(NodeNetworkError) -> [InterfaceAddress] in
            var cache: OpaquePointer?
            let result = rtnl_addr_alloc_cache(socket, &cache)
            guard result >= 0, let cache else { throw NodeNetworkError(libnl: result, "listing addresses") }
            defer { nl_cache_free(cache) }
            var found: [InterfaceAddress] = []
            var object = nl_cache_get_first(cache)
            while let current = object {
                let entry = current
                if link == nil || rtnl_addr_get_ifindex(entry) == link!.index,
                    let local = rtnl_addr_get_local(entry), let address = Self.ipAddress(local)
                {
                    found.append(
                        InterfaceAddress(
                            address: address, prefixLength: Int(rtnl_addr_get_prefixlen(entry)),
                            interfaceIndex: rtnl_addr_get_ifindex(entry), flags: rtnl_addr_get_flags(entry)))
                }
                object = nl_cache_get_next(current)
            }
            return found
        }
    }

    /// How the main table routes each of `addresses`: the interface and the gateway, if any, of the longest matching
    /// unicast route; an address no route matches is left out. A pod on this node is reached directly over a bridge
    /// or veth, another node's through a gateway or the node's own link.
    public func routes(toward addresses: Set<IPAddress>) throws(NodeNetworkError) -> [IPAddress: Route] {
        try locked { () throws(NodeNetworkError) -> [IPAddress: Route] in
            var found: [IPAddress: Route] = [:]
            for family in [IPFamily.ipv4, .ipv6] {
                let wanted = addresses.filter { $0.family == family }
                guard !wanted.isEmpty else { continue }
                var cache: OpaquePointer?
                let result = rtnl_route_alloc_cache(socket, family == .ipv4 ? AF_INET : AF_INET6, 0, &cache)
                guard result >= 0, let cache else { throw NodeNetworkError(libnl: result, "listing routes") }
                defer { nl_cache_free(cache) }
                var table: [(prefix: CIDR?, route: Route)] = []
                var object = nl_cache_get_first(cache)
                while let current = object {
                    object = nl_cache_get_next(current)
                    guard rtnl_route_get_table(current) == UInt32(RT_TABLE_MAIN.rawValue),
                        rtnl_route_get_type(current) == UInt8(RTN_UNICAST), rtnl_route_get_nnexthops(current) > 0,
                        let hop = rtnl_route_nexthop_n(current, 0), let destination = rtnl_route_get_dst(current)
                    else { continue }
                    let length = Int(nl_addr_get_prefixlen(destination))
                    var prefix: CIDR?
                    if length > 0 {
                        guard let network = Self.ipAddress(destination),
                            let parsed = try? CIDR(network: network, prefixLength: length)
                        else { continue }
                        prefix = parsed
                    }
                    let gateway = rtnl_route_nh_get_gateway(hop).flatMap { Self.ipAddress($0) }
                    table.append((prefix, Route(interfaceIndex: rtnl_route_nh_get_ifindex(hop), gateway: gateway)))
                }
                for address in wanted {
                    let matches = table.filter { $0.prefix?.contains(address) ?? true }
                    found[address] =
                        matches.max { ($0.prefix?.prefixLength ?? 0) < ($1.prefix?.prefixLength ?? 0) }?
                        .route
                }
            }
            return found
        }
    }

    /// Adds the address; one that is already there counts as success. IPv6 VIPs skip duplicate
    /// address detection, so they are usable at once.
    public func add(_ address: IPAddress, prefixLength: Int? = nil, to link: Link) throws(NodeNetworkError) {
        try change(address, prefixLength: prefixLength, link: link, operation: "adding \(address) to \(link.name)") {
            (socket, object) in
            let result = rtnl_addr_add(socket, object, cnetlink_flag_create_excl())
            return result == -NLE_EXIST ? 0 : result
        }
    }

    /// Adds or overwrites the address (prefix length and flags).
    public func replace(_ address: IPAddress, prefixLength: Int? = nil, on link: Link) throws(NodeNetworkError) {
        try change(address, prefixLength: prefixLength, link: link, operation: "replacing \(address) on \(link.name)") {
            (socket, object) in
            rtnl_addr_add(socket, object, cnetlink_flag_replace())
        }
    }

    /// Removes the address; one that is not there counts as success.
    public func remove(_ address: IPAddress, prefixLength: Int? = nil, from link: Link) throws(NodeNetworkError) {
        try change(address, prefixLength: prefixLength, link: link, operation: "removing \(address) from \(link.name)")
        { (socket, object) in
            let result = rtnl_addr_delete(socket, object, 0)
            return result == -NLE_NOADDR || result == -NLE_OBJ_NOTFOUND ? 0 : result
        }
    }

    private func change(
        _ address: IPAddress, prefixLength: Int?, link: Link, operation: String,
        _ send: (OpaquePointer, OpaquePointer) -> Int32
    ) throws(NodeNetworkError) {
        let width = address.family == .ipv4 ? 32 : 128
        let length = prefixLength ?? width
        guard (0...width).contains(length) else {
            throw NodeNetworkError(.invalidAddress, "\(operation): prefix length \(length) is outside 0-\(width)")
        }
        try locked { () throws(NodeNetworkError) in
            guard let object = rtnl_addr_alloc() else { throw NodeNetworkError(.failed, "\(operation): out of memory") }
            defer { rtnl_addr_put(object) }
            var bytes = Self.bytes(address)
            guard let local = nl_addr_build(address.family == .ipv4 ? AF_INET : AF_INET6, &bytes, bytes.count) else {
                throw NodeNetworkError(.failed, "\(operation): out of memory")
            }
            defer { nl_addr_put(local) }
            rtnl_addr_set_ifindex(object, link.index)
            _ = rtnl_addr_set_local(object, local)
            rtnl_addr_set_prefixlen(object, Int32(length))
            if address.family == .ipv6 { rtnl_addr_set_flags(object, UInt32(IFA_F_NODAD)) }
            let result = send(socket, object)
            guard result >= 0 else { throw NodeNetworkError(libnl: result, operation) }
        }
    }

    private static func bytes(_ address: IPAddress) -> [UInt8] {
        let count = address.family == .ipv4 ? 4 : 16
        return (0..<count).map { UInt8(truncatingIfNeeded: address.value >> (8 * (count - 1 - $0))) }
    }

    private static func ipAddress(_ local: OpaquePointer) -> IPAddress? {
        let family = nl_addr_get_family(local)
        let length = Int(nl_addr_get_len(local))
        guard let raw = nl_addr_get_binary_addr(local),
            (family == AF_INET && length == 4) || (family == AF_INET6 && length == 16)
        else { return nil }
        let bytes = UnsafeRawBufferPointer(start: raw, count: length)
        let value = bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
        return IPAddress(family: family == AF_INET ? .ipv4 : .ipv6, value: value)
    }
}
