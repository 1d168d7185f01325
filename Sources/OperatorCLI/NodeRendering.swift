public import IPAM
public import Keepalived
public import KubeClient

/// The keepalived.conf a node's agent would render from the current plan (`kubectl keepalived
/// render NODE`): the same renderer, with the node's and its peers' InternalIPs from the Nodes.
public enum NodeRendering {
    public struct Failure: Error, Sendable {
        public let message: String
    }

    public static func render(
        plan: VRRPPlan, node name: String, nodes: [Node], interface: String, unicast: Bool,
        advertIntervalMilliseconds: Int, stateDirectory: String
    ) throws -> String {
        let byName = Dictionary(nodes.compactMap { node in node.metadata.name.map { ($0, node) } }) { a, _ in a }
        guard let node = byName[name] else {
            throw Failure(message: "node \"\(name.prefix(64))\" does not exist")
        }
        guard plan.nodes.contains(name) else {
            throw Failure(
                message: "node \(name) is not in the VRRP plan (eligible: \(plan.nodes.joined(separator: ", "))); "
                    + "its agent renders no instance")
        }
        let peers = unicast ? plan.nodes.filter { $0 != name }.flatMap { byName[$0].map(internalAddresses) ?? [] } : []
        do {
            let settings = try NodeSettings(
                nodeName: name, interface: interface, sourceAddresses: internalAddresses(of: node), unicastPeers: peers,
                advertIntervalMilliseconds: advertIntervalMilliseconds, notifyFIFO: stateDirectory + "/notify.fifo")
            return KeepalivedConfig.render(plan: plan, node: settings)
        } catch {
            throw Failure(message: error.message)
        }
    }

    /// As the agent reads them: the Node's InternalIP addresses.
    static func internalAddresses(of node: Node) -> [IPAddress] {
        node.status.addresses.filter { $0.type == .internalIP }.compactMap {
            $0.address.flatMap { try? IPAddress($0) }
        }
    }
}
