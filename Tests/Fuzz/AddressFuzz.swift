import IPAM

/// Addresses, CIDRs and `a-b` ranges as flags, annotations and ConfigMap keys give them: any
/// input either parses or throws, and whatever parses prints back to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAddress(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let address = try? IPAddress(text) {
        guard let again = try? IPAddress(address.description), again == address else {
            fatalError("\(address) does not parse back to itself")
        }
    }
    for piece in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(8) {
        _ = try? CIDR(String(piece))
    }
    if let parsed = try? Pool.parse(text.split(separator: "\n").prefix(4).map(String.init)) {
        for family in parsed.pool.families {
            var allocator = Allocator<Int>(pool: parsed.pool)
            for owner in 0..<4 { _ = try? allocator.allocate(family, to: owner) }
        }
    }
    return 0
}
