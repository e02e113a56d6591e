import COpenBLAS
import Foundation

extension Compute {
    /// The kernel family OpenBLAS selected at load time (e.g. "SkylakeX", "Haswell", "Prescott").
    public static var blasCoreName: String { String(cString: openblas_get_corename()) }

    /// The `OPENBLAS_CORETYPE` to re-execute with when OpenBLAS runs older kernels than this CPU
    /// supports, or nil.
    ///
    /// Two cases: OpenBLAS did not recognise a CPU newer than the library and fell back to a
    /// generic SSE kernel (e.g. Sapphire/Emerald Rapids with 0.3.21: about 4× slower at sgemm), or
    /// the environment forced a kernel family without AVX-512 on a CPU that has it (some machine
    /// images export `OPENBLAS_CORETYPE=Haswell` globally; on an AVX-512 Zen 5 the Haswell kernels
    /// are 1.5–1.8× slower at the engine's GEMM shapes, BENCHMARKS.md). `SPIKEQ_BLAS_CORETYPE`
    /// names the kernel family explicitly and turns this off (`SPIKEQ_BLAS_CORETYPE=Haswell` keeps Haswell).
    public static func betterBLASCoreType() -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let wanted = environment["SPIKEQ_BLAS_CORETYPE"] {
            return wanted.caseInsensitiveCompare(blasCoreName) == .orderedSame || wanted.isEmpty ? nil : wanted
        }
        let current = blasCoreName.lowercased()
        let generic: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "katmai", "coppermine", "northwood", "banias"]
        let withoutAVX512: Set<String> = generic.union(["sandybridge", "haswell", "zen"])
        guard withoutAVX512.contains(current) else { return nil }
        // A kernel family OpenBLAS picked itself (not forced) is kept unless it is generic.
        if environment["OPENBLAS_CORETYPE"] == nil && !generic.contains(current) { return nil }
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(flags.contains) { return "SkylakeX" }
        if generic.contains(current) && ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
        return nil
    }

    /// Re-executes the current program with `OPENBLAS_CORETYPE` set when ``betterBLASCoreType()``
    /// finds one (OpenBLAS picks its kernels when it is loaded, so the process must restart).
    /// Call it first thing in `main`; returns normally when nothing needs to change or exec fails.
    /// Happens at most once (`SPIKEQ_BLAS_REEXECUTED` marks the new process).
    public static func reexecuteWithBetterBLASKernelsIfNeeded() {
        #if os(Linux)
        guard let core = betterBLASCoreType() else { return }
        guard ProcessInfo.processInfo.environment["SPIKEQ_BLAS_REEXECUTED"] == nil else { return }  // once only
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv("SPIKEQ_BLAS_REEXECUTED", core, 1)
        let arguments = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)
        // exec failed: carry on with the generic kernels.
        for pointer in argv { free(pointer) }
        #endif
    }
}
