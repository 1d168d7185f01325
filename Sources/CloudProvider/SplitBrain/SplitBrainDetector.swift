public import IPAM

/// Notices a VIP that two or more nodes report holding (VRRP MASTER) for longer than `window`:
/// a moment of overlap is a normal handover, a lasting one means the nodes cannot hear each
/// other's adverts and clients reach whichever node answered ARP last. A value type fed with the
/// agents' published state; the controller turns its actions into events, logs and a metric.
public struct SplitBrainDetector: Sendable {
    public struct Finding: Hashable, Sendable {
        public let address: IPAddress
        public let nodes: [String]

        public init(address: IPAddress, nodes: [String]) {
            self.address = address
            self.nodes = nodes
        }
    }

    public enum Action: Hashable, Sendable {
        /// Held by several nodes for longer than the window.
        case report(Finding)
        /// Was reported; now held by at most one node.
        case resolved(IPAddress)
        /// Observe again at this offset from the observation (a candidate may outlast the window).
        case checkAgain(after: Duration)
    }

    public let window: Duration
    private var candidates: [IPAddress: (nodes: [String], since: Duration)] = [:]
    public private(set) var reported: [IPAddress: [String]] = [:]

    public init(window: Duration) {
        self.window = window
    }

    /// `holders`: for each node, the VIPs it says it holds; `now`: the time on the controller's clock, the one its
    /// `checkAgain` delays are slept on.
    public mutating func observe(holders: [String: [IPAddress]], now: Duration) -> [Action] {
        var byAddress: [IPAddress: [String]] = [:]
        for (node, addresses) in holders {
            for address in Set(addresses) { byAddress[address, default: []].append(node) }
        }
        var actions: [Action] = []
        var next: Duration?
        for (address, nodes) in byAddress.sorted(by: { $0.key < $1.key }) where nodes.count > 1 {
            let nodes = nodes.sorted()
            let since = candidates[address].map { $0.nodes == nodes ? $0.since : now } ?? now
            candidates[address] = (nodes, since)
            if now - since >= window {
                if reported[address] != nodes {
                    reported[address] = nodes
                    actions.append(.report(Finding(address: address, nodes: nodes)))
                }
            } else {
                let left = window - (now - since)
                next = min(next ?? left, left)
            }
        }
        for address in candidates.keys where (byAddress[address]?.count ?? 0) < 2 {
            candidates[address] = nil
            if reported.removeValue(forKey: address) != nil { actions.append(.resolved(address)) }
        }
        if let next { actions.append(.checkAgain(after: next)) }
        return actions
    }
}
