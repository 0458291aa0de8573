// swift-tools-version:6.1
import PackageDescription

// Hot numeric targets are built with -Ounchecked in release builds: every kernel in them is covered
// by a finite-difference or reference test in Tests/. On x86-64 they also target Haswell-level x86-64 (AVX2 + FMA,
// every x86 server CPU since 2015): the SIMD kernels run 2-4× slower on the SSE2 baseline.
// TACIT_PORTABLE=1 at build time keeps the baseline for older CPUs.
var hotFlags = ["-Ounchecked"]
#if arch(x86_64)
if Context.environment["TACIT_PORTABLE"] == nil { hotFlags += ["-target-cpu", "haswell"] }
#endif
let hotSettings: [SwiftSetting] = [
    .unsafeFlags(hotFlags, .when(configuration: .release))
]

let package = Package(
    name: "Tacit",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tacit", targets: ["tacit"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // MARK: - C libraries from Debian (system-library targets)
        .systemLibrary(
            name: "COpenBLAS",
            path: "Sources/C/COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .systemLibrary(
            name: "CRDKafka",
            path: "Sources/C/CRDKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .systemLibrary(name: "CLibc", path: "Sources/C/CLibc"),
        .systemLibrary(
            name: "CSQLite",
            path: "Sources/C/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),

        // MARK: - Learning core
        /// Float32 tensors, reverse-mode autodiff, BLAS and CSR kernels, optimizers, seeded RNG.
        .target(name: "TacitTensor", dependencies: ["COpenBLAS", "CLibc"], swiftSettings: hotSettings),
        /// Events, datasets, behavior taxonomy, loaders, splits, negative sampling.
        .target(name: "TacitData", dependencies: ["TacitTensor"], swiftSettings: hotSettings),
        /// Recommendation models: baselines and the three paper models.
        .target(name: "TacitModels", dependencies: ["TacitTensor", "TacitData"], swiftSettings: hotSettings),
        /// Metrics, evaluation protocols, training loop with model selection, benchmarks.
        .target(
            name: "TacitEval",
            dependencies: ["TacitTensor", "TacitData", "TacitModels"],
            swiftSettings: hotSettings
        ),

        // MARK: - Streaming service
        /// Thin Swift layer over librdkafka: typed config, consumer, producer.
        .target(
            name: "TacitKafka",
            dependencies: [
                "CRDKafka",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        /// Durable state in SQLite: id maps, sequences, interactions, offsets, model snapshots.
        .target(
            name: "TacitStore",
            dependencies: [
                "CSQLite", "TacitData",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        /// The daemon: config, ingest, trainer, publisher, HTTP, systemd integration.
        .target(
            name: "TacitDaemon",
            dependencies: [
                "TacitKafka", "TacitStore", "TacitModels", "TacitEval", "TacitData", "TacitTensor",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),

        // MARK: - Command line
        /// The `tacit` subcommands and their option validation (a library, so tests can parse arguments).
        .target(
            name: "TacitCLI",
            dependencies: [
                "TacitTensor", "TacitData", "TacitModels", "TacitEval", "TacitDaemon", "TacitKafka", "TacitStore", "CLibc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "tacit", dependencies: ["TacitCLI"]),

        // MARK: - Tests
        // Finite-difference gradient checking, shared by the engine's and the models' tests.
        .target(name: "TacitTestSupport", dependencies: ["TacitTensor"], path: "Tests/TacitTestSupport"),
        .testTarget(name: "TacitTensorTests", dependencies: ["TacitTensor", "TacitTestSupport"]),
        .testTarget(name: "TacitDataTests", dependencies: ["TacitData"]),
        .testTarget(name: "TacitModelsTests", dependencies: ["TacitModels", "TacitEval", "TacitData", "TacitTensor", "TacitTestSupport"]),
        .testTarget(name: "TacitEvalTests", dependencies: ["TacitEval", "TacitData", "TacitModels"]),
        .testTarget(
            name: "TacitCLITests",
            dependencies: [
                "TacitCLI", "TacitModels", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Real parts for the service tests: temporary folders, a Tansu broker on a free port, store records.
        .target(
            name: "TacitServiceTestSupport",
            dependencies: [
                "CRDKafka", "TacitKafka", "TacitStore", "TacitData", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TacitServiceTestSupport"
        ),
        .testTarget(name: "TacitKafkaTests", dependencies: ["TacitKafka", "TacitServiceTestSupport"]),
        .testTarget(name: "TacitStoreTests", dependencies: ["TacitStore", "TacitData", "TacitServiceTestSupport"]),
        .testTarget(
            name: "TacitDaemonTests",
            dependencies: [
                "TacitDaemon", "TacitKafka", "TacitStore", "TacitData", "TacitModels", "TacitServiceTestSupport",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
