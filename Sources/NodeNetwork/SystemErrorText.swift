#if canImport(Glibc)
    import Glibc
#endif

/// The C library's text for the current errno ("Operation not permitted"), for messages that name a failed call.
public func systemErrorText() -> String {
    String(cString: strerror(errno))
}
