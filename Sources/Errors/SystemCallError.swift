#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A failed system call and its errno, like swift-nio's `IOError`: the one place errno becomes text.
/// Create it right after the call fails, before anything else can change errno.
public struct SystemCallError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The errno value, for programs to branch on (`EPERM`, `ENOENT`, …).
    public let errnoCode: Int32
    /// What was attempted, naming the object ("open /run/netns/n1").
    public let attempt: String

    /// Reads the current thread's errno.
    public init(_ attempt: String) {
        self.init(attempt, errnoCode: errno)
    }

    /// For calls that return the error number instead of setting errno (posix_spawn, pthread_*).
    public init(_ attempt: String, errnoCode: Int32) {
        self.attempt = attempt
        self.errnoCode = errnoCode
    }

    /// The C library's text for the errno ("Operation not permitted").
    public var reason: String { String(cString: strerror(errnoCode)) }

    public var description: String { "\(attempt): \(reason)" }
}
