// swift-tools-version:6.0
// Tessera: a text-to-video render farm. The target graph points one way:
// C shims -> engine -> media/storage -> queue -> farm -> CLI -> executable.
// See docs/ARCHITECTURE.md.
import PackageDescription

// The numeric kernels are compiled for x86-64 with AVX2 and FMA (Haswell, 2013, and later; every AMD EPYC):
// measured 13% less CPU time for the DiT forward than the baseline SSE2 build, mostly in the softmax
// exponentials and GELU. `tessera` checks the CPU at start and says so plainly on an older one;
// TESSERA_PORTABLE=1 at build time gives the baseline build.
#if arch(x86_64)
let kernelFlags: [SwiftSetting] =
    Context.environment["TESSERA_PORTABLE"] == "1" ? [] : [.unsafeFlags(["-target-cpu", "haswell"]), .define("TESSERA_FMA")]
#else
let kernelFlags: [SwiftSetting] = []
#endif

let package = Package(
    name: "Tessera",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tessera", targets: ["tessera"]),
        .executable(name: "tessera-dit-case", targets: ["tessera-dit-case"]),
        .library(name: "TesseraFarm", targets: ["TesseraFarm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
    ],
    targets: [
        // System libraries from Debian, found through pkg-config. Each has exactly one Swift owner.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CLibAV", pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // Numerics (owner of OpenBLAS): tensors, kernels and their plain reference versions, safetensors.
        // Never imports the farm.
        .target(name: "TesseraTensor", dependencies: ["COpenBLAS"], swiftSettings: kernelFlags),
        // Networks built from a JSON config and safetensors weights: the DiT (and later the VAE, text encoder).
        .target(name: "TesseraModels", dependencies: ["TesseraTensor"]),
        // The diffusion process, apart from any network: rectified-flow schedules, solvers, guidance, noise.
        .target(name: "TesseraSampling", dependencies: ["TesseraTensor"]),
        // Training: reverse-mode gradients of the engine's operations, optimizers, the training loops.
        .target(name: "TesseraTraining", dependencies: ["TesseraTensor", "TesseraModels", "TesseraSampling"], swiftSettings: kernelFlags),
        // Video in and out (owner of libav).
        .target(name: "TesseraMedia", dependencies: ["CLibAV"]),
        // Object storage (owner of libcurl): the S3 client and the local folder store.
        .target(name: "TesseraStorage", dependencies: ["CCurl"]),
        // The procedural world Tessera learns from: scenes, physics, renderer, captions, prompt expansion and
        // the evaluator that reads a video back. Numerics only; never imports the farm.
        .target(name: "TesseraWorld", dependencies: ["TesseraTensor"]),

        // PostgreSQL client (owner of libpq). Knows nothing about jobs.
        .target(name: "TesseraPostgres", dependencies: ["CLibPQ"]),
        // The durable job queue: all SQL, migrations runner, enqueue parsing, the job state machine.
        .target(
            name: "TesseraQueue",
            dependencies: [
                "TesseraPostgres",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Worker, coordinator, renderer interface, embedded cluster, configuration, metrics.
        .target(
            name: "TesseraFarm",
            dependencies: [
                "TesseraQueue", "TesseraPostgres", "TesseraTensor", "TesseraModels", "TesseraSampling", "TesseraMedia",
                "TesseraStorage", "TesseraWorld",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // The command line, as a library so tests can drive it.
        .target(
            name: "TesseraCLI",
            dependencies: [
                "TesseraFarm", "TesseraQueue", "TesseraPostgres", "TesseraTensor", "TesseraModels", "TesseraTraining", "TesseraWorld",
                "TesseraMedia",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .executableTarget(
            name: "tessera",
            dependencies: ["TesseraCLI"]),
        // The child of `tessera bench dit`: one DiT forward in a process that links the engine alone.
        .executableTarget(
            name: "tessera-dit-case",
            dependencies: ["TesseraModels"]),

        // Golden files under Tests/TesseraEngineTests/Golden are found through #filePath, not as resources.
        .testTarget(
            name: "TesseraEngineTests", dependencies: ["TesseraTensor", "TesseraModels", "TesseraSampling"],
            exclude: ["Golden"]),
        .testTarget(name: "TesseraTrainingTests", dependencies: ["TesseraTraining", "TesseraTensor", "TesseraModels", "TesseraSampling"]),
        .testTarget(name: "TesseraMediaTests", dependencies: ["TesseraMedia"]),
        .testTarget(name: "TesseraWorldTests", dependencies: ["TesseraWorld", "TesseraTensor"]),
        .testTarget(name: "TesseraQueueTests", dependencies: ["TesseraQueue", "TesseraPostgres", "TesseraTestSupport"]),
        .testTarget(
            name: "TesseraFarmTests",
            dependencies: [
                "TesseraFarm", "TesseraQueue", "TesseraPostgres", "TesseraCLI", "TesseraTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]),
        .testTarget(name: "TesseraStorageTests", dependencies: ["TesseraStorage", "TesseraFarm", "TesseraTestSupport"]),
        // Test servers: a PostgreSQL database per test (TESSERA_TEST_PG), SeaweedFS (TESSERA_WEED), via TesseraFarm's ChildProcess.
        .target(
            name: "TesseraTestSupport", dependencies: ["TesseraPostgres", "TesseraQueue", "TesseraFarm", "TesseraStorage"],
            path: "Tests/TesseraTestSupport"),
    ]
)
