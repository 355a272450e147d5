// swift-tools-version:6.0
import PackageDescription

let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Fasco",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fasco", targets: ["fasco"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // Metrics: libraries record through swift-metrics' API; only FascoDaemon bootstraps
        // swift-prometheus's factory and serves its registry's text.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C-facing targets.
        .systemLibrary(name: "CGRPCCore"),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c"),
        .target(name: "CGRPCShim", dependencies: ["CGRPCCore"]),
        .target(name: "CRIProto", dependencies: ["CProtobufC"]),
        .systemLibrary(name: "CImageLibs"),
        .target(name: "CLinux"),
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        // sd-bus from libsystemd (Debian: libsystemd-dev): the systemd cgroup driver's D-Bus calls.
        .target(name: "CSystemdBus", linkerSettings: [.linkedLibrary("systemd")]),
        .target(name: "GRPCTransport", dependencies: ["CGRPCShim", "CGRPCCore"], swiftSettings: swift6),

        // Swift layers.
        .target(name: "FascoCore", dependencies: ["CLinux"], swiftSettings: swift6),
        .target(name: "OCISpec", swiftSettings: swift6),
        // The software RMM: realm measurement (RIM, REMs, replayable log), CBOR/COSE, CCA tokens.
        .target(
            name: "RealmAttestation",
            dependencies: [
                "FascoCore", "OCISpec", "CZlib", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: swift6),
        .target(name: "RealmCore", dependencies: ["FascoCore", "OCISpec", "RealmAttestation", .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics")], swiftSettings: swift6),
        .target(
            name: "SoftwareRealms",
            dependencies: [
                // ImageStore for RootfsFile: the mount points made inside a container's rootfs.
                "RealmCore", "OCISpec", "FascoCore", "ImageStore", "CLinux", "CSystemdBus", .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swift6),
        .target(
            name: "ImageStore",
            dependencies: [
                "OCISpec", "FascoCore", "CImageLibs", "CLinux", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swift6),
        .target(name: "CRIAPI", dependencies: ["CRIProto", "CProtobufC", "GRPCTransport"], swiftSettings: swift6),
        .target(
            name: "CRIStreaming",
            dependencies: ["CZlib", "FascoCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swift6),
        .target(
            name: "CRIServer",
            dependencies: [
                "CRIAPI", "CRIStreaming", "GRPCTransport", "FascoCore", "ImageStore", "OCISpec", "RealmCore", "RealmAttestation",
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swift6),
        // Key release to realms: Trustee's RCAR 0.4.0 client, JWE, sealed secrets.
        .target(
            name: "KeyBroker",
            dependencies: [
                "FascoCore", "ImageStore", "RealmCore", "RealmAttestation", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swift6),
        // The guest API in every pod (CoCo's api-server-rest): HTTP on the pod's loopback and a unix socket.
        .target(
            name: "GuestAPI",
            dependencies: ["CLinux", "CRIStreaming", "FascoCore", "KeyBroker", "RealmCore", "RealmAttestation", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swift6),
        .target(
            name: "FascoDaemon",
            dependencies: [
                "GuestAPI", "KeyBroker", "CRIServer", "CRIStreaming", "CRIAPI", "GRPCTransport", "FascoCore", "ImageStore", "OCISpec", "RealmCore", "RealmAttestation", "SoftwareRealms",
                .product(name: "Logging", package: "swift-log"), .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swift6),
        .executableTarget(
            name: "fasco",
            dependencies: [
                "FascoDaemon", "CRIAPI", "CRIServer", "GRPCTransport", "FascoCore", "RealmAttestation", "RealmCore", "ImageStore", "OCISpec",
                "SoftwareRealms",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swift6),

        .executableTarget(name: "fasco-realm"),
        // The wire-level fuzzer of the short fuzz run in make test and the long one in make bench.
        .target(name: "WireFuzz", dependencies: ["FascoCore", "GRPCTransport"], swiftSettings: swift6),
        // What test targets share: log capture; awaited clean-ups, call statuses, free ports and
        // known answers.
        .target(name: "LogCapture", dependencies: [.product(name: "Logging", package: "swift-log")], path: "Tests/LogCapture", swiftSettings: swift6),
        .target(name: "TestSupport", dependencies: ["FascoCore", "GRPCTransport", "ImageStore"], path: "Tests/TestSupport", swiftSettings: swift6),
        .executableTarget(
            name: "fasco-bench",
            dependencies: ["CRIAPI", "GRPCTransport", "RealmAttestation", "OCISpec", "FascoCore", "SoftwareRealms", "WireFuzz"],
            swiftSettings: swift6),

        .testTarget(
            name: "RealmAttestationTests",
            dependencies: ["RealmAttestation", "OCISpec", "FascoCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swift6),
        .testTarget(
            name: "RealmCoreTests",
            dependencies: ["RealmCore", "FascoCore", "OCISpec", "RealmAttestation", "LogCapture", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swift6),
        .testTarget(
            name: "SoftwareRealmsTests",
            dependencies: ["SoftwareRealms", "RealmCore", "OCISpec", "FascoCore", "LogCapture", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swift6),
        .testTarget(name: "OCISpecTests", dependencies: ["OCISpec"], swiftSettings: swift6),
        .testTarget(
            name: "ImageStoreTests",
            dependencies: [
                "ImageStore", "OCISpec", "FascoCore", "LogCapture", "TestSupport", .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swift6),
        .testTarget(name: "GRPCTransportTests", dependencies: ["GRPCTransport"], swiftSettings: swift6),
        .testTarget(name: "CRIAPITests", dependencies: ["CRIAPI", "FascoCore"], swiftSettings: swift6),
        .testTarget(name: "GuestAPITests", dependencies: ["GuestAPI"], swiftSettings: swift6),
        .testTarget(
            name: "KeyBrokerTests",
            dependencies: [
                "KeyBroker", "FascoCore", "ImageStore", "TestSupport", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swift6),
        .testTarget(name: "CRIStreamingTests", dependencies: ["CRIStreaming", "FascoCore"], swiftSettings: swift6),
        .testTarget(
            name: "CRIServerTests",
            dependencies: [
                // SoftwareRealms: ContainerSpecRuncTests runs specs as the backend completes them.
                "CRIServer", "CRIAPI", "GRPCTransport", "FascoCore", "ImageStore", "OCISpec", "RealmCore", "SoftwareRealms", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swift6),
        .testTarget(
            name: "FascoDaemonTests",
            dependencies: ["FascoDaemon", "CRIServer", "CRIStreaming", "CRIAPI", "GRPCTransport", "ImageStore", "RealmAttestation", "RealmCore",
                           "SoftwareRealms", "TestSupport", "LogCapture", "WireFuzz"],
            exclude: ["python_client.py"],
            swiftSettings: swift6),
    ]
)
