public import IPAM
public import Keepalived

/// What this node's keepalived says about each instance, and therefore which VIPs it holds.
/// A value type fed by notify messages and supervisor events; it returns what to do.
public struct VRRPStateTracker: Sendable {
    public private(set) var states: [String: NotifyMessage.State] = [:]
    public private(set) var transitions: [String: Int] = [:]

    public init() {}

    public enum Action: Equatable, Sendable {
        case none
        /// keepalived is gone: every VIP it may have added must leave the interface now.
        case removeAll
    }

    /// Records a state change; returns whether it was one (repeats are not).
    @discardableResult
    public mutating func apply(_ message: NotifyMessage) -> Bool {
        let previous = states[message.instance]
        if message.state == .deleted {
            states[message.instance] = nil
        } else {
            states[message.instance] = message.state
        }
        guard previous != message.state else { return false }
        transitions[message.instance, default: 0] += 1
        return true
    }

    public mutating func keepalivedExited() -> Action {
        states = [:]
        return .removeAll
    }

    /// Instances of the plan that this node is master of, and their addresses.
    public func held(in plan: VRRPPlan?) -> [IPAddress] {
        guard let plan else { return [] }
        return plan.instances.filter { states[plan.instanceName($0)] == .master }.flatMap(\.addresses).sorted()
    }

    public func isMaster(_ instance: String) -> Bool { states[instance] == .master }
}
