internal import CBuildInfo

/// What `--version` prints: set from git when the image is built (`scripts/image`).
public enum BuildInfo {
    public static let version = String(cString: klb_build_version())
}
