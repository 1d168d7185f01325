/// A network prefix. Host bits are masked off on parse, as the Go predecessor did
/// (`10.210.2.100/26` is `10.210.2.64/26`); `parse` reports when that happened so callers can warn.
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    public let network: IPAddress
    public let prefixLength: Int

    /// The result of parsing, with what was changed on the way.
    public struct Parsed: Hashable, Sendable {
        public let cidr: CIDR
        /// The address in the text had host bits set; they were dropped.
        public let droppedHostBits: Bool
    }

    public init(network: IPAddress, prefixLength: Int) throws(IPAMError) {
        let width = network.family.bitWidth
        guard (0...width).contains(prefixLength) else {
            throw IPAMError(
                .invalidPrefixLength,
                "prefix length /\(prefixLength) is out of range for \(network.family) (0-\(width))")
        }
        self.network = IPAddress(
            family: network.family, value: network.value & ~Self.hostMask(network.family, prefixLength))
        self.prefixLength = prefixLength
    }

    /// Parses `address/length`, masking host bits.
    public init(_ text: some StringProtocol) throws(IPAMError) {
        self = try Self.parse(text).cidr
    }

    public static func parse(_ text: some StringProtocol) throws(IPAMError) -> Parsed {
        let string = String(text)
        guard let slash = string.firstIndex(of: "/") else {
            throw IPAMError(.invalidPrefixLength, "\"\(string)\" is not a CIDR: missing \"/length\", e.g. 192.0.2.0/24")
        }
        let address = try IPAddress(string[..<slash])
        let lengthText = string[string.index(after: slash)...]
        guard !lengthText.isEmpty, lengthText.count <= 3, lengthText.utf8.allSatisfy({ (48...57).contains($0) }),
            let length = Int(lengthText), lengthText == "0" || !lengthText.hasPrefix("0")
        else {
            throw IPAMError(
                .invalidPrefixLength,
                "\"\(string)\": prefix length \"\(lengthText)\" is not a decimal number 0-\(address.family.bitWidth)")
        }
        let cidr = try CIDR(network: address, prefixLength: length)
        return Parsed(cidr: cidr, droppedHostBits: cidr.network != address)
    }

    static func hostMask(_ family: IPFamily, _ prefixLength: Int) -> UInt128 {
        let hostBits = family.bitWidth - prefixLength
        return hostBits == 128 ? .max : (UInt128(1) << UInt128(hostBits)) - 1
    }

    public var family: IPFamily { network.family }
    public var first: IPAddress { network }
    public var last: IPAddress {
        IPAddress(family: family, value: network.value | Self.hostMask(family, prefixLength))
    }
    public var size: AddressCount {
        let hostBits = family.bitWidth - prefixLength
        return hostBits == 128 ? AddressCount(high: 1, low: 0) : AddressCount(UInt128(1) << UInt128(hostBits))
    }

    public func contains(_ address: IPAddress) -> Bool {
        address.family == family && address.value & ~Self.hostMask(family, prefixLength) == network.value
    }

    public var description: String { "\(network)/\(prefixLength)" }
}
