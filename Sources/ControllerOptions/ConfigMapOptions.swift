public import ArgumentParser
import CommandLineSupport

/// Where the VIP ConfigMap lives: flags, else the predecessor's environment variables, else the
/// predecessor's defaults (kube-system/vip-configmap).
public struct ConfigMapOptions: ParsableArguments, Sendable {
    @Option(help: "Namespace of the VIP ConfigMap and the leader Lease. Env: KEEPALIVED_NAMESPACE.")
    public var namespace: String?

    @Option(help: "Name of the VIP ConfigMap. Env: KEEPALIVED_CONFIG_MAP.")
    public var configmap: String?

    public init() {}

    public func resolvedNamespace(environment: [String: String]) throws -> String {
        try Setting.resolve(flag: "--namespace", namespace, env: "KEEPALIVED_NAMESPACE", in: environment)?
            .validatedName(subdomain: false) ?? "kube-system"
    }

    public func resolvedName(environment: [String: String]) throws -> String {
        try Setting.resolve(flag: "--configmap", configmap, env: "KEEPALIVED_CONFIG_MAP", in: environment)?
            .validatedName(subdomain: true) ?? "vip-configmap"
    }
}
