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

    /// The value of an environment variable, if set.
    public static func variable(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}
