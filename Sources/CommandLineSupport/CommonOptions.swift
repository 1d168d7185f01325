public import ArgumentParser
public import KubeClient
import Observability

/// The flags the controller and the agent share: how to reach the API server and how to log.
public struct CommonOptions: ParsableArguments, Sendable {
    @Option(help: "Path to a kubeconfig. Default: the in-cluster service account.")
    public var kubeconfig: String?

    @Option(help: "Context of the kubeconfig to use. Default: its current-context.")
    public var context: String?

    @Option(help: "Log format: text or json.")
    public var logFormat = "text"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    public var logLevel = "info"

    public init() {}

    public func validate() throws {
        if let problem = LogSetup.problem(format: logFormat, level: logLevel) { throw ValidationError(problem) }
    }

    public func bootstrapLogging() {
        LogSetup.bootstrap(format: logFormat, level: logLevel)
    }

    /// The kubeconfig's (and context's) settings, else the in-cluster service account's.
    public func clientConfiguration() throws(KubeError) -> ClientConfiguration {
        if let kubeconfig { return try KubeConfig.load(path: kubeconfig, context: context) }
        return try ClientConfiguration.inCluster()
    }
}
