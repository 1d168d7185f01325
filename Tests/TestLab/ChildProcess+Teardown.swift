public import ProcessSupervision

#if canImport(Glibc)
    import Glibc
#endif

extension ChildProcess {
    /// For a `defer`, where nothing can be awaited: SIGKILL, then reap (at once, as the child cannot outlive
    /// SIGKILL). A graceful stop is `stop(grace:)`.
    public func killAndReap() {
        signal(SIGKILL)
        _ = waitBlocking()
    }
}
