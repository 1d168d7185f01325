/// The VIP ConfigMap would outgrow what the API server stores (1 MiB of data): the write is not sent, and new
/// Services give way (retried, told why) so the rest is written and every VIP already in it stays served.
public struct ConfigMapFull: Error, Sendable, CustomStringConvertible {
    /// What kube-apiserver accepts in a ConfigMap's `data` and `binaryData`, keys and values together.
    public static let defaultLimit = 1_048_576

    public let bytes: Int
    public let limit: Int

    public var message: String {
        """
        the VIP ConfigMap would hold \(bytes) bytes, over the limit of \(limit) (Kubernetes stores no more): new \
        Services wait until some are deleted (every VIP already written stays served); split the Services over \
        more clusters or shorten their names
        """
    }

    public var description: String { message }

    /// Bytes the API server counts against the limit: every key and value of `data`.
    static func size(of data: [String: String]) -> Int {
        data.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
    }
}
