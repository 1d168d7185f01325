public struct WatchOptions: Sendable {
    public var resourceVersion: String?
    public var labelSelector: String?
    public var fieldSelector: String?
    public var allowBookmarks: Bool
    /// The server ends the watch after this long; callers resume from the last resourceVersion.
    public var timeoutSeconds: Int

    public init(
        resourceVersion: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
        allowBookmarks: Bool = true, timeoutSeconds: Int = 300
    ) {
        self.resourceVersion = resourceVersion
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.allowBookmarks = allowBookmarks
        self.timeoutSeconds = timeoutSeconds
    }
}
