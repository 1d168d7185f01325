public import IPAM
public import KubeClient

/// A protocol and port of a Service: what two Services sharing one address must not both use.
public struct PortKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let proto: String
    public let port: Int

    public init(proto: String, port: Int) {
        self.proto = proto
        self.port = port
    }

    public var description: String { "\(proto)/\(port)" }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.port, lhs.proto) < (rhs.port, rhs.proto) }

    /// A Service's protocol/port pairs, sorted, each once (the protocol defaults to TCP, as the API's).
    public static func of(_ service: Service) -> [PortKey] {
        Array(
            Set(
                service.spec.ports.compactMap { port in
                    port.port.map { PortKey(proto: port.`protocol` ?? "TCP", port: $0) }
                })
        ).sorted()
    }
}

/// IP sharing (`keepalived-lb.io/sharing-key`): Services with one key share an address when their
/// protocol+port pairs do not collide, within one namespace unless the address's pool allows sharing
/// across namespaces.
public enum Sharing {
    public static let annotation = "keepalived-lb.io/sharing-key"

    /// 1-63 characters of letters, digits, '-', '_' and '.': it only ever names a group.
    public static func validate(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 63
            && key.utf8.allSatisfy {
                ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95
                    || $0 == 46
            }
    }

}

extension Ledger {
    /// Another Service of `key`'s sharing group that holds an address of `family`: same key, and the
    /// same namespace unless the address's pool is in `across`.
    func sharingPartner(of key: ObjectKey, sharingKey: String, family: IPFamily, crossNamespacePools: Set<String>)
        -> IPAddress?
    {
        let namespace = key.namespace
        for (other, record) in records.sorted(by: { $0.key < $1.key }) where other != key {
            guard record.sharingKey == sharingKey else { continue }
            for address in record.addresses where address.family == family {
                let pool = pool(containing: address)
                if other.namespace == namespace || pool.map(crossNamespacePools.contains) == true { return address }
            }
        }
        return nil
    }

    /// Whether `key` (with `sharingKey` and `ports`) may hold `address` beside its other holders.
    public func sharingRefusal(
        _ key: ObjectKey, sharingKey: String?, ports: [PortKey], address: IPAddress, crossNamespacePools: Set<String>
    ) -> ServiceRefusal? {
        let holders = records.filter { $0.key != key && $0.value.addresses.contains(address) }.sorted {
            $0.key < $1.key
        }
        guard let first = holders.first else { return nil }
        guard let sharingKey, first.value.sharingKey == sharingKey else {
            let theirs = first.value.sharingKey.map { "sharing key \($0)" } ?? "no sharing key"
            return ServiceRefusal(
                .addressInUse,
                "\(address) is held by Service \(first.key) (\(theirs)); give both the same "
                    + "\(Sharing.annotation) to share it")
        }
        let pool = pool(containing: address)
        if first.key.namespace != key.namespace && pool.map(crossNamespacePools.contains) != true {
            return ServiceRefusal(
                .sharingAcrossNamespaces,
                "\(address) is shared by Service \(first.key) in another namespace; its pool "
                    + "\(pool ?? "(none)") does not allow sharing across namespaces")
        }
        for (other, record) in holders {
            if let port = Set(ports).intersection(record.ports).min() {
                return ServiceRefusal(
                    .sharingPortConflict,
                    "\(port) on \(address) is already used by Service \(other) (sharing key \(sharingKey)); "
                        + "Services sharing an address need distinct protocol/port pairs")
            }
        }
        return nil
    }

    /// What `ensure` would refuse for sharing reasons, said before it runs: the reason and the other
    /// Service for the event.
    public func sharingPreflight(_ key: ObjectKey, request: LoadBalancerRequest, crossNamespacePools: Set<String>)
        -> ServiceRefusal?
    {
        for family in request.families {
            let address: IPAddress?
            if let wanted = request.requested.first(where: { $0.family == family }) {
                // Between Services that do not share, the allocator's own refusal stays the word.
                let shared = records.contains { $0.value.sharingKey != nil && $0.value.addresses.contains(wanted) }
                address = request.sharingKey != nil || shared ? wanted : nil
            } else if let sharingKey = request.sharingKey {
                address = sharingPartner(
                    of: key, sharingKey: sharingKey, family: family, crossNamespacePools: crossNamespacePools)
            } else {
                address = nil
            }
            if let address,
                let refusal = sharingRefusal(
                    key, sharingKey: request.sharingKey, ports: request.ports, address: address,
                    crossNamespacePools: crossNamespacePools)
            {
                return refusal
            }
        }
        return nil
    }
}
