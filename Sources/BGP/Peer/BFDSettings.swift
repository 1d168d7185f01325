/// Bidirectional Forwarding Detection for a BGP session (RFC 5880): how fast a dead peer is noticed, which bounds
/// how long a router keeps sending traffic to a node that is gone.
public struct BFDSettings: Hashable, Sendable {
    public let receiveIntervalMilliseconds: Int
    public let transmitIntervalMilliseconds: Int
    public let multiplier: Int

    /// MetalLB's and most routers' default: a peer is declared down after 3 × 300 ms.
    public static let standard = try! BFDSettings(receive: 300, transmit: 300, multiplier: 3)

    /// Intervals 10-60,000 ms (BIRD's range; most routers accept 50 and up), multiplier 1-255.
    public init(receive: Int, transmit: Int, multiplier: Int) throws(BGPError) {
        for (name, value) in [("receiveIntervalMilliseconds", receive), ("transmitIntervalMilliseconds", transmit)] {
            guard (10...60_000).contains(value) else {
                throw BGPError(.invalidBFD, "bfd.\(name) \(value) is out of range; use 10-60000 (300 is common)")
            }
        }
        guard (1...255).contains(multiplier) else {
            throw BGPError(.invalidBFD, "bfd.multiplier \(multiplier) is out of range; use 1-255 (3 is common)")
        }
        receiveIntervalMilliseconds = receive
        transmitIntervalMilliseconds = transmit
        self.multiplier = multiplier
    }

    /// How long a silent peer lasts before its session is declared down.
    public var detectionMilliseconds: Int { receiveIntervalMilliseconds * multiplier }
}
