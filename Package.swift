// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "keepalived-lb",
    products: [
        .library(name: "IPAM", targets: ["IPAM"]),
        .library(name: "KubeClient", targets: ["KubeClient"]),
        .library(name: "Keepalived", targets: ["Keepalived"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.25.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
    ],
    targets: [
        // The one error shape (a protocol and a code type) and the errno error. No dependencies, so IPAM may use it.
        .target(name: "Errors"),

        // Pure Swift address management: no dependencies but the error shape, not even Foundation.
        // The allocator's hot path is @inlinable, so callers specialise it for their owner type (no unsafe flags).
        .target(name: "IPAM", dependencies: ["Errors"]),

        // RFC 8259 JSON as an untyped tree: parser, writer, value. No dependencies, not even Foundation, so
        // `scripts/fuzz` links it as it is.
        .target(name: "JSON"),

        // A small, strict Kubernetes client: config, typed objects, verbs, watch, informer,
        // leases and events.
        .target(
            name: "KubeClient",
            dependencies: [
                "JSON", "Errors",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),

        // BGP announcement through BIRD 2: validated peer settings, bird.conf rendering, reading birdc's status.
        // Like Keepalived: only validated values reach the daemon's configuration.
        .target(name: "BGP", dependencies: ["IPAM", "Errors"]),

        // VRRP plan (with the routes BGP pools announce), keepalived.conf rendering and the ConfigMap codecs.
        // Only validated values reach keepalived's configuration.
        .target(name: "Keepalived", dependencies: ["IPAM", "BGP", "Errors"]),

        // libnl-route-3 through pkg-config; a C shim only where macros do not import.
        .systemLibrary(
            name: "CNetlink", pkgConfig: "libnl-route-3.0", providers: [.apt(["libnl-3-dev", "libnl-route-3-dev"])]),

        // What the agent does to the node's network: VIP addresses through one netlink socket (no shelling out to
        // `ip`), links and interfaces, raw VRRP adverts on a crashed keepalived's behalf, network namespaces.
        .target(name: "NodeNetwork", dependencies: ["CNetlink", "IPAM", "Errors"]),

        // prctl, which does not import into Swift.
        .target(name: "CProcess"),

        // Child processes with a clean signal mask (keepalived, and the binaries tests start).
        .target(name: "ProcessSupervision", dependencies: ["CProcess", "Errors"]),

        // The keepalived-lb.io objects and Node annotations that both daemons read (BGPPeer, BGP session state), and
        // a Node as the input of its keepalived.conf (the agent and `kubectl keepalived render` share it).
        .target(name: "LoadBalancerAPI", dependencies: ["IPAM", "BGP", "Keepalived", "KubeClient"]),

        // The node agent: keepalived supervisor, VIP reconciler, state reporting.
        .target(
            name: "NodeAgent",
            dependencies: [
                "Errors", "IPAM", "Keepalived", "KubeClient", "LoadBalancerAPI", "NodeNetwork", "ProcessSupervision",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // The controller: ledger, reconcilers, ConfigMap writer.
        .target(
            name: "CloudProvider",
            dependencies: [
                "IPAM", "BGP", "Keepalived", "KubeClient", "LoadBalancerAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // jemalloc as the process allocator, and its controls (decay, purge, statistics).
        .target(name: "CHeap", linkerSettings: [.linkedLibrary("jemalloc")]),

        // The version string `scripts/image` stamps from git (a generated private header).
        .target(name: "CBuildInfo"),

        // What both daemons share: /metrics, /healthz, /readyz, logging, the build's version, heap trimming.
        .target(
            name: "Observability",
            dependencies: [
                "KubeClient", "CHeap", "CBuildInfo", "Errors",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // What every command shares: the exit codes of DESIGN.md (CommandMain), the API and logging flags,
        // flags that fall back to the predecessor's environment variables (Setting).
        .target(
            name: "CommandLineSupport",
            dependencies: [
                "KubeClient", "Observability",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // The flags the controller and `kubectl keepalived check-config` share, parsed and validated once.
        .target(
            name: "ControllerOptions",
            dependencies: [
                "CloudProvider", "CommandLineSupport", "IPAM", "Keepalived",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The controller's command (flags, configuration, lifecycle), shared by its executable and keepalived-lb.
        .target(
            name: "ControllerCLI",
            dependencies: [
                "CloudProvider", "CommandLineSupport", "ControllerOptions", "IPAM", "Keepalived", "KubeClient",
                "Observability",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        .executableTarget(name: "keepalived-cloud-provider", dependencies: ["ControllerCLI", "CommandLineSupport"]),

        // The agent's command, shared by its executable and keepalived-lb.
        .target(
            name: "AgentCLI",
            dependencies: [
                "CommandLineSupport", "NodeAgent", "NodeNetwork", "Keepalived", "KubeClient", "Observability",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        .executableTarget(name: "keepalived-vip-agent", dependencies: ["AgentCLI", "CommandLineSupport"]),

        // `kubectl keepalived …`: the operator CLI's commands and their logic (status report, offline config
        // check, node rendering); no netlink, no keepalived.
        .target(
            name: "OperatorCLI",
            dependencies: [
                "IPAM", "Keepalived", "KubeClient", "CloudProvider", "CommandLineSupport", "ControllerOptions",
                "LoadBalancerAPI", "Observability",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // The kubectl plugin alone.
        .executableTarget(name: "kubectl-keepalived", dependencies: ["OperatorCLI", "CommandLineSupport"]),

        // All three in one binary that runs the one it is invoked as (the image ships it with three names):
        // one copy of the static Swift runtime instead of three.
        .executableTarget(
            name: "keepalived-lb", dependencies: ["ControllerCLI", "AgentCLI", "OperatorCLI", "CommandLineSupport"]),

        .testTarget(name: "IPAMTests", dependencies: ["IPAM", "TestTraits"]),
        .testTarget(name: "ErrorsTests", dependencies: ["Errors"]),
        .testTarget(
            name: "OperatorCLITests",
            dependencies: [
                "OperatorCLI", "CloudProvider", "Keepalived", "KubeClient", "IPAM", "InMemoryAPI", "TestLab",
                "TestTraits",
            ]),
        .testTarget(
            name: "ObservabilityTests",
            dependencies: [
                "Observability", "KubeClient", "InMemoryAPI",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "ProcessSupervisionTests", dependencies: ["ProcessSupervision", "InMemoryAPI"]),
        .testTarget(
            name: "BGPTests",
            dependencies: ["BGP", "IPAM", "InMemoryAPI", "ProcessSupervision", "TestLab", "TestTraits"]),
        // Golden files are read from the source tree by path (UPDATE_GOLDEN=1 rewrites them there).
        .testTarget(name: "KeepalivedTests", dependencies: ["Keepalived", "BGP", "IPAM"], exclude: ["Unit/Golden"]),
        .testTarget(
            name: "CloudProviderTests",
            dependencies: [
                "CloudProvider", "KubeClient", "InMemoryAPI", "TestLab", "IPAM", "Keepalived", "LoadBalancerAPI",
                "TestTraits",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Yams", package: "Yams"),
            ]),
        // The lab the integration tests run in: real control planes (scripts/testenv), network namespaces with
        // keepalived, kube-proxy and pods, probes.
        .target(
            name: "TestLab", dependencies: ["IPAM", "Keepalived", "KubeClient", "ProcessSupervision"],
            path: "Tests/TestLab"),
        // The fake: an in-memory API server for controller logic tests (test targets only).
        .target(name: "InMemoryAPI", dependencies: ["KubeClient"], path: "Tests/InMemoryAPI"),
        // Shared by test targets only: the `.integration` trait and tag (scripts/test --unit), a seeded generator.
        .target(name: "TestTraits", path: "Tests/TestTraits"),
        .testTarget(
            name: "KubeClientTests", dependencies: ["KubeClient", "JSON", "InMemoryAPI", "TestLab", "TestTraits"]),
        .testTarget(
            name: "NodeNetworkTests", dependencies: ["NodeNetwork", "IPAM", "InMemoryAPI", "TestLab", "TestTraits"]),
        .testTarget(
            name: "NodeAgentTests",
            dependencies: [
                "NodeAgent", "BGP", "CloudProvider", "Keepalived", "KubeClient", "IPAM", "InMemoryAPI",
                "LoadBalancerAPI", "OperatorCLI",
                "TestLab", "TestTraits",
                .product(name: "Logging", package: "swift-log"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)

// The benchmarks (which start control planes through the test support) only when `scripts/bench` asks for them:
// `swift build` never compiles them.
if Context.environment["KLB_BENCHMARKS"] == "1" {
    package.targets += [
        // The figures' JSON lines, peak RSS and medians, without Foundation.
        .target(name: "BenchSupport", path: "Benchmarks/BenchSupport"),
        // IPAM alone, so its peak RSS is the allocator's.
        .executableTarget(
            name: "klb-ipam-bench", dependencies: ["IPAM", "BenchSupport"], path: "Benchmarks/klb-ipam-bench"),
        .executableTarget(
            name: "klb-bench",
            dependencies: [
                "IPAM", "KubeClient", "Keepalived", "NodeNetwork", "TestLab", "BenchSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/klb-bench"
        ),
    ]
}

// One language mode for every target: `any` spelled out, imports that say what a file uses.
for target in package.targets where target.type != .system {
    target.swiftSettings =
        (target.swiftSettings ?? []) + [
            .enableUpcomingFeature("ExistentialAny"),
            .enableUpcomingFeature("MemberImportVisibility"),
            .enableUpcomingFeature("InternalImportsByDefault"),
        ]
}
