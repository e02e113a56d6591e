import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Tests that need an external tool (python3 with `safetensors`, a headless browser, root for
/// network namespaces) skip when it is missing, unless `SPIKEQ_REQUIRE_EXTERNAL=1` is set, as
/// `.ci/run` does: there a missing tool is a failure, so CI can never pass by skipping.
public enum TestEnvironment {
    public static var requiresExternalTools: Bool {
        guard let value = getenv("SPIKEQ_REQUIRE_EXTERNAL") else { return false }
        return String(cString: value) == "1"
    }

    /// Whether `python3 -c "import MODULES"` succeeds (e.g. `"zmq"`, `"safetensors, numpy"`).
    public static func pythonCanImport(_ modules: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import \(modules)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus == 0
        } catch {
            return false
        }
    }

    /// The value of an environment variable, if set.
    public static func variable(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}
