import Foundation

extension Condition {
    /// A condition whose lastTransitionTime stays `previous`'s (the same type, as last written) while the
    /// status does not change, as the API conventions ask; the message is cut at 1 KiB.
    public init(
        type: String, status: ConditionStatus, reason: String, message: String, after previous: Condition?,
        observedGeneration: Int?
    ) {
        let now = KubeTime.format(Date())
        self.init(
            type: type, status: status, reason: reason, message: String(message.prefix(1024)),
            lastTransitionTime: previous?.status == status ? (previous?.lastTransitionTime ?? now) : now,
            observedGeneration: observedGeneration)
    }
}
