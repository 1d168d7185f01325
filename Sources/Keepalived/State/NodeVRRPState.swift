import Foundation
public import IPAM

/// What an agent publishes on its Node (annotation `keepalived-lb.io/vrrp-state`) so that
/// `kubectl describe node` and the controller see it:
/// `{"keepalived":"running","instances":{"fcp_v4_50":"MASTER"},"tokenAdverts":true,"vips":["203.0.113.65"]}`.
public struct NodeVRRPState: Hashable, Sendable, Codable {
    public static let annotation = "keepalived-lb.io/vrrp-state"
    /// Nodes write this annotation; a larger one is not read.
    public static let maximumSize = 64 * 1024

    public var keepalived: String
    public var instances: [String: String]
    public var vips: [String]
    /// The agent renders token adverts when every node can (`AdvertisedAddresses`); absent from agents before them.
    public var tokenAdverts: Bool?
    /// The node's interfaces, so the controller knows which nodes can hold a pool's `spec.interface`; absent from
    /// agents before pools chose interfaces.
    public var interfaces: [String]?

    public init(
        running: Bool, instances: [String: String], vips: [IPAddress], tokenAdverts: Bool = true,
        interfaces: [String]? = nil
    ) {
        keepalived = running ? "running" : "stopped"
        self.instances = instances
        self.vips = vips.map(\.description)
        self.tokenAdverts = tokenAdverts
        self.interfaces = interfaces
    }

    /// The published interface names that are valid ones (a node can write anything there).
    public var validInterfaces: Set<String> {
        Set((interfaces ?? []).filter { (try? InterfaceName.validate($0)) != nil })
    }

    /// Compact JSON with sorted keys: an unchanged state is byte-identical and costs no patch.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// nil for a missing, oversized or unreadable annotation (a node can write anything there).
    public init?(annotation text: String?) {
        guard let text, text.utf8.count <= Self.maximumSize,
            let decoded = try? JSONDecoder().decode(Self.self, from: Data(text.utf8))
        else { return nil }
        self = decoded
    }

    /// The VIPs it holds, those that parse as addresses.
    public var heldAddresses: [IPAddress] {
        keepalived == "running" ? vips.compactMap { try? IPAddress($0) } : []
    }
}
