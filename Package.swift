// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "keepalived-lb",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "IPAM", targets: ["IPAM"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Pure Swift address management: no dependencies, not even Foundation.
        .target(name: "IPAM", swiftSettings: [.unsafeFlags(["-cross-module-optimization"])]),

        .executableTarget(
            name: "klb-bench",
            dependencies: [
                "IPAM",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "IPAMTests", dependencies: ["IPAM"]),
    ],
    swiftLanguageModes: [.v6]
)
