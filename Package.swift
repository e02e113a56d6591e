// swift-tools-version: 6.0
//
// SpikeQuant: heterogeneous (uniform / power-of-two, mixed-bit) quantization search
// for spiking transformers, distributed over ZeroMQ.
//
// Module map (one job each; only one module imports each C library):
//   COpenBLAS, CZeroMQ, CLZ4   system-library shims
//   CKernels                   event-driven and int8 level products in C, one variant per instruction set, picked at run time
//   Seeding                    seeded, serialisable random generators (weights, data, search)
//   Statistics                 intervals, paired tests, rank correlations (pure)
//   Tensor                     Float32 storage, GEMM, parallel kernels, thread pool
//   SpikingNN                  layers (forward + backward), LIF, Spikformer, AdamW, trainer, safetensors
//   Events                     event-camera readers, frame integration, synthetic gestures, frame cache
//   ConfigFiles                the one error type of every config file (file, key, line, layer)
//   QuantConfig                the per-layer quantization config: schemes, widths, canonical form, hash
//   Quantization               quantizers, per-layer config + hash, bit packing, energy model, export
//   Evaluation                 one candidate end to end (what a worker runs)
//   Search                     genes, steady-state NSGA-II, constraints, hypervolume (pure, no I/O)
//   Wire                       protocol messages and 18/MDP framing (no sockets)
//   Transport                  ZeroMQ context/socket/poller, CURVE, ZAP
//   RunStore                   the run directory and its SQLite database (GRDB)
//   Coordinator, Worker        the two services of a distributed search
//   RunSetup                   create a run from a config (data, base model, study) or find the one to resume
//   Report                     HTML + SVG report, CSV/JSON figure data
//   Dashboard                  live read-only web view of a run (Hummingbird), JSON behind each view
//   spikeq                     the command line: parses, wires, no logic of its own
import Foundation
import PackageDescription

/// Code generation for the numeric engine (Tensor, SpikingNN, and Quantization's per-step weight
/// quantizers), whose element-wise kernels (LIF, BatchNorm, pooling, attention, im2col, rounding)
/// are written to vectorise. On x86-64 they are compiled
/// for AVX2 + FMA (`-target-cpu haswell`: Intel since 2013, AMD since 2015), which makes them 2–4×
/// faster than the SSE2 baseline. Set `SPIKEQ_PORTABLE=1` when building (or `make PORTABLE=1`)
/// for a binary that runs on any x86-64 CPU; see BENCHMARKS.md, "Engine".
let engineSettings: [SwiftSetting] = {
    #if arch(x86_64)
    if ProcessInfo.processInfo.environment["SPIKEQ_PORTABLE"] == nil {
        return [.unsafeFlags(["-target-cpu", "haswell"])]
    }
    #endif
    return []
}()

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let yams = Target.Dependency.product(name: "Yams", package: "Yams")
let grdb = Target.Dependency.product(name: "GRDB", package: "GRDB.swift")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")
let lifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")

let package = Package(
    name: "SpikeQuant",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "spikeq", targets: ["spikeq"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.0.0"),
    ],
    targets: [
        // C libraries.
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"]), .yum(["openblas-devel"])]),
        .systemLibrary(
            name: "CZeroMQ", pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"]), .brew(["zeromq"])]),
        .systemLibrary(
            name: "CLZ4", pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"]), .brew(["lz4"])]),
        // Compiled without machine flags: AVX2 and AVX-512 variants are selected per function and
        // dispatched at run time, so every build runs on any x86-64 and uses what the CPU has.
        .target(name: "CKernels"),

        // A value behind a lock and dedicated threads (socket loops, evaluations): the one way to share state.
        .target(name: "Threading"),
        // Reproducible random numbers, shared by everything that draws them.
        .target(name: "Seeding"),
        // The one content hash (lowercase hex SHA-256) of configs, checkpoints and artifacts.
        .target(name: "ContentHash", dependencies: [crypto]),
        // Intervals, paired tests and rank correlations for honest accuracy figures (pure).
        .target(name: "Statistics", dependencies: ["Seeding"]),

        // Numerics and the spiking engine.
        .target(name: "Tensor", dependencies: ["COpenBLAS", "CKernels"], swiftSettings: engineSettings),
        .target(
            name: "SpikingNN", dependencies: ["Tensor", "Seeding", "ConfigFiles", "QuantConfig", "Threading"], swiftSettings: engineSettings),

        // Data.
        .target(name: "Events", dependencies: ["CLZ4", "ConfigFiles", "ContentHash", "Threading", "Seeding", crypto]),

        // The method: per-layer configs (pure data), quantization, energy, export; one candidate end to end.
        .target(name: "ConfigFiles", dependencies: [yams]),
        .target(name: "QuantConfig", dependencies: ["ConfigFiles", "ContentHash"]),
        .target(name: "Quantization", dependencies: ["ConfigFiles", "QuantConfig", "SpikingNN", "Tensor", "Seeding"], swiftSettings: engineSettings),
        .target(name: "Evaluation", dependencies: ["ConfigFiles", "ContentHash", "SpikingNN", "Events", "Quantization", "QuantConfig", "Search", "Seeding", "Statistics", "Threading", "Wire", "Tensor"]),

        // The distributed search.
        .target(name: "Search", dependencies: ["ConfigFiles", "ContentHash", "Seeding", "QuantConfig", "Statistics"]),
        .target(name: "Wire", dependencies: ["ContentHash", "QuantConfig", "Statistics"]),
        .target(name: "Transport", dependencies: ["CZeroMQ", "Threading", logging]),
        .target(name: "RunStore", dependencies: ["QuantConfig", "Search", "Statistics", "Wire", grdb]),
        // The 18/MDP broker: registry, dispatch binding, heartbeats and the artifact service, with a
        // socket-free core (BrokerState) and the loop that drives it.
        .target(name: "Broker", dependencies: ["Threading", "ContentHash", "Transport", "Wire", logging, lifecycle]),
        .target(
            name: "Coordinator",
            dependencies: [
                "Broker", "Threading", "ConfigFiles", "ContentHash", "QuantConfig", "Search", "Seeding", "Wire", "Transport", "RunStore", logging,
                yams, lifecycle, .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]),
        .target(
            name: "Worker",
            dependencies: [
                "ConfigFiles", "Threading", "ContentHash", "QuantConfig", "Wire", "Transport", "Evaluation", "Events", "Quantization", "Tensor", logging, lifecycle, crypto,
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]),
        // A run from a config: dataset fingerprint, FP32 base model (trained if missing), study.
        .target(
            name: "RunSetup",
            dependencies: [
                "ContentHash", "Coordinator", "Evaluation", "Events", "QuantConfig", "Quantization", "RunStore", "Search", "SpikingNN", "Wire", logging,
            ]),
        .target(name: "Report", dependencies: ["Search", "RunStore", "Wire", "QuantConfig", "Statistics"]),
        // Pareto-optimal models out of a run: packed and float safetensors, a manifest, a README.
        .target(name: "Export", dependencies: ["ContentHash", "Quantization", "SpikingNN", "RunStore", "Search", "Wire", "QuantConfig", "Statistics"]),
        .target(
            name: "Dashboard",
            dependencies: [
                "ContentHash", "RunStore", "Search", "Wire", "QuantConfig", "Statistics", logging, crypto, lifecycle,
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio"),
            ]),

        // Speed and search-quality measurements behind `spikeq bench` (none live inside a library).
        .target(
            name: "Benchmarks",
            dependencies: [
                "Broker", "ConfigFiles", "ContentHash", "Evaluation", "Threading", "Worker", "Transport", "Wire", "QuantConfig", "SpikingNN", "Tensor", "Events", "Seeding", "Coordinator",
                "Report", "RunStore", "Statistics", logging, yams,
            ]),

        // The command line.
        .executableTarget(
            name: "spikeq",
            dependencies: [
                "QuantConfig", "Tensor", "SpikingNN", "Events", "Quantization", "Evaluation", "Search", "Wire", "Transport",
                "RunStore", "RunSetup", "Broker", "Coordinator", "Worker", "Benchmarks", "Report", "Export", "Dashboard", "Statistics", "Threading",
                argumentParser, logging,
            ],
            // Lets CommandLineTests use `@testable import spikeq` in release builds (the tests run in
            // release); the commands stay internal. Costs nothing measurable: the CLI does no compute.
            swiftSettings: [.unsafeFlags(["-enable-testing"])]),

        // Tests. Shared helpers (seeded RNG, approximate comparison, tensor builders) live in TestSupport.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "SeedingTests", dependencies: ["Seeding"]),
        .testTarget(name: "StatisticsTests", dependencies: ["Statistics", "TestSupport"]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "Seeding", "TestSupport"]),
        .testTarget(
            name: "SpikingNNTests", dependencies: ["ConfigFiles", "SpikingNN", "Tensor", "Seeding", "QuantConfig", "TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "EventsTests", dependencies: ["ConfigFiles", "Events", "Seeding", "TestSupport"]),
        .testTarget(name: "QuantConfigTests", dependencies: ["ConfigFiles", "QuantConfig"]),
        .testTarget(name: "ConfigFilesTests", dependencies: ["ConfigFiles", "QuantConfig", "TestSupport"]),
        .testTarget(name: "QuantizationTests", dependencies: ["ConfigFiles", "Quantization", "QuantConfig", "Seeding", "SpikingNN", "Tensor", "TestSupport"]),
        .testTarget(
            name: "EvaluationTests",
            dependencies: ["ContentHash", "Evaluation", "Quantization", "Tensor", "QuantConfig", "Search", "SpikingNN", "Wire", "Seeding", "TestSupport"]),
        .testTarget(name: "SearchTests", dependencies: ["Search", "QuantConfig", "Seeding", "TestSupport"]),
        .testTarget(name: "WireTests", dependencies: ["Wire", "QuantConfig"]),
        .testTarget(name: "TransportTests", dependencies: ["Threading", "Transport", logging], exclude: ["Interop"]),
        .testTarget(name: "RunStoreTests", dependencies: ["RunStore", "Search", "Wire", "QuantConfig", "Seeding", grdb]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "RunStore", "Search", "Wire", "QuantConfig", "Statistics", "TestSupport"]),
        .testTarget(
            name: "DashboardTests", dependencies: ["Dashboard", "RunStore", "Search", "Wire", "QuantConfig", "Statistics", "TestSupport", logging]),
        .testTarget(
            name: "CoordinatorTests",
            dependencies: ["ConfigFiles", "Broker", "Coordinator", "Report", "RunStore", "Search", "Wire", "QuantConfig", "Seeding", "TestSupport", logging]),
        .testTarget(
            name: "CommandLineTests",
            dependencies: [
                "spikeq", "Benchmarks", "ConfigFiles", "Coordinator", "Evaluation", "Events", "Export", "QuantConfig", "Quantization", "Search", "Seeding",
                "SpikingNN", "Tensor", argumentParser,
            ]),
        .testTarget(name: "RunSetupTests", dependencies: ["RunSetup", "RunStore", "Search", "QuantConfig", logging]),
        .testTarget(name: "BrokerTests", dependencies: ["Broker", "Wire", "Transport", "QuantConfig", logging]),
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "Wire", "Transport", "QuantConfig", logging]),
        .testTarget(
            name: "SystemTests",
            dependencies: [
                "Broker", "Threading", "Coordinator", "Worker", "RunStore", "Export", "Search", "Wire", "Transport", "QuantConfig", "Seeding", "Statistics",
                "TestSupport", logging, yams,
            ]),
    ]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
