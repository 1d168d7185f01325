/// One piece of a pool as an operator writes it: a CIDR, a range `a-b`, or a single address.
public enum PoolEntry: Hashable, Sendable, CustomStringConvertible {
    case cidr(CIDR)
    case range(AddressRange)

    /// Parses `192.0.2.0/24`, `192.0.2.10-192.0.2.20` or `2001:db8::1`.
    /// Host bits in a CIDR are dropped; use `parse` to learn whether that happened.
    public init(_ text: some StringProtocol) throws(IPAMError) {
        self = try Self.parse(text).entry
    }

    public static func parse(_ text: some StringProtocol) throws(IPAMError) -> (entry: PoolEntry, droppedHostBits: Bool)
    {
        let string = String(text)
        if string.contains("/") {
            let parsed = try CIDR.parse(string)
            return (.cidr(parsed.cidr), parsed.droppedHostBits)
        }
        if string.contains("-") {
            return (.range(try AddressRange(string)), false)
        }
        let address = try IPAddress(string)
        return (.range(try AddressRange(first: address, last: address)), false)
    }

    public var family: IPFamily {
        switch self {
        case .cidr(let c): c.family
        case .range(let r): r.family
        }
    }

    /// Every address the entry covers, before any usability policy.
    public var span: AddressRange {
        switch self {
        case .cidr(let c): try! AddressRange(first: c.first, last: c.last)
        case .range(let r): r
        }
    }

    public var description: String {
        switch self {
        case .cidr(let c): c.description
        case .range(let r): r.first == r.last ? r.first.description : r.description
        }
    }
}
