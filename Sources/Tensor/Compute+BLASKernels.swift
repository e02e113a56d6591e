import COpenBLAS
import Foundation

extension Compute {
    /// The kernel family OpenBLAS selected at load time (e.g. "SkylakeX", "Haswell", "Prescott").
    public static var blasCoreName: String { String(cString: openblas_get_corename()) }

    /// The `OPENBLAS_CORETYPE` this CPU supports when OpenBLAS did not recognise it and fell back
    /// to a generic SSE kernel (a CPU newer than the library, e.g. Sapphire/Emerald Rapids with
    /// OpenBLAS 0.3.21): nil when OpenBLAS already uses a vector kernel or the user set the variable.
    ///
    /// On such machines the fallback is about 4× slower at sgemm.
    public static func betterBLASCoreType() -> String? {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil else { return nil }
        let generic: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "katmai", "coppermine", "northwood", "banias"]
        guard generic.contains(blasCoreName.lowercased()) else { return nil }
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(flags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
        return nil
    }

    /// Re-executes the current program with `OPENBLAS_CORETYPE` set when ``betterBLASCoreType()``
    /// finds one (OpenBLAS picks its kernels when it is loaded, so the process must restart).
    /// Call it first thing in `main`; returns normally when nothing needs to change or exec fails.
    public static func reexecuteWithBetterBLASKernelsIfNeeded() {
        #if os(Linux)
        guard let core = betterBLASCoreType() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        let arguments = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)
        // exec failed: carry on with the generic kernels.
        for pointer in argv { free(pointer) }
        #endif
    }
}
