/// The tool's version, recorded in exported manifests, run databases and protocol bodies.
public enum SpikeQuantVersion {
    public static let string = "0.1.0"
}
