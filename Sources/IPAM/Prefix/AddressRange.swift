/// An inclusive range `first-last` of one family.
public struct AddressRange: Hashable, Sendable, CustomStringConvertible {
    public let first: IPAddress
    public let last: IPAddress

    public init(first: IPAddress, last: IPAddress) throws(IPAMError) {
        guard first.family == last.family else {
            throw IPAMError(
                .familyMismatch, "range \(first)-\(last) mixes IPv4 and IPv6; both ends must be the same family")
        }
        guard first <= last else {
            throw IPAMError(.invalidRange, "range \(first)-\(last) is backwards; write the lower address first")
        }
        self.first = first
        self.last = last
    }

    /// Parses `a-b` (spaces around the dash are allowed).
    public init(_ text: some StringProtocol) throws(IPAMError) {
        let string = String(text)
        let parts = string.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw IPAMError(
                .invalidRange,
                "\"\(string)\" is not a range: expected exactly one \"-\" between two addresses, e.g. "
                    + "192.0.2.10-192.0.2.20"
            )
        }
        func trim(_ s: Substring) -> Substring {
            s.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed().reduce(into: "") {
                $0.append($1)
            }[...]
        }
        try self.init(first: IPAddress(trim(parts[0])), last: IPAddress(trim(parts[1])))
    }

    public var family: IPFamily { first.family }

    public var size: AddressCount {
        let span = last.value - first.value
        return span == .max ? AddressCount(high: 1, low: 0) : AddressCount(span + 1)
    }

    public func contains(_ address: IPAddress) -> Bool {
        address.family == family && first <= address && address <= last
    }

    public func overlaps(_ other: AddressRange) -> Bool {
        family == other.family && first <= other.last && other.first <= last
    }

    public var description: String { "\(first)-\(last)" }
}
