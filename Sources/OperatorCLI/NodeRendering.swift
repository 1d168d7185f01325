import IPAM
public import Keepalived
public import KubeClient
import LoadBalancerAPI

/// The keepalived.conf a node's agent would render from the current plan (`kubectl keepalived
/// render NODE`): the same renderer, with the node's and its peers' InternalIPs from the Nodes.
public enum NodeRendering {
    /// Why a node's configuration cannot be rendered.
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        /// What went wrong, for programs to branch on (compared as values; printed as its name).
        public struct Code: Hashable, Sendable, CustomStringConvertible {
            private enum Value: String, Hashable, Sendable {
                case noSuchNode = "NoSuchNode"
                case notInPlan = "NotInPlan"
                case invalidSettings = "InvalidSettings"
            }

            private let value: Value
            private init(_ value: Value) { self.value = value }
            public var description: String { value.rawValue }

            public static let noSuchNode = Code(.noSuchNode)
            public static let notInPlan = Code(.notInPlan)
            public static let invalidSettings = Code(.invalidSettings)
        }

        public let code: Code
        /// What happened and what the operator should do about it.
        public let message: String

        public init(_ code: Code, _ message: String) {
            self.code = code
            self.message = message
        }

        public var description: String { "\(code): \(message)" }
    }

    public static func render(
        plan: VRRPPlan, node name: String, nodes: [Node], interface: String, unicast: Bool,
        advertIntervalMilliseconds: Int, stateDirectory: String
    ) throws -> String {
        let byName = Dictionary(nodes.compactMap { node in node.metadata.name.map { ($0, node) } }) { a, _ in a }
        guard let node = byName[name] else {
            throw Failure(.noSuchNode, "node \"\(name.prefix(64))\" does not exist")
        }
        guard plan.nodes.contains(name) else {
            throw Failure(
                .notInPlan,
                "node \(name) is not in the VRRP plan (eligible: \(plan.nodes.joined(separator: ", "))); "
                    + "its agent renders no instance")
        }
        // The node's interfaces as its agent published them (the plugin cannot list them itself).
        let member = NodeRenderInput.Member(node)
        let input = NodeRenderInput(
            plan: plan, node: member, member: { byName[$0].map(NodeRenderInput.Member.init) }, interface: interface,
            unicast: unicast, advertIntervalMilliseconds: advertIntervalMilliseconds, stateDirectory: stateDirectory,
            interfaces: member.state?.interfaces.map(Set.init))
        do {
            return try input.render().config
        } catch {
            throw Failure(.invalidSettings, error.message)
        }
    }
}
