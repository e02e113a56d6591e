import ArgumentParser
import Foundation
import Transport

/// `spikeq keys …`: CURVE key pairs for the coordinator and workers.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage CURVE keys for encrypted, authenticated coordinator-worker links.",
        subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate a CURVE key pair as CZMQ zcert files.",
            discussion: """
                Writes DIR/NAME.key (public: hand it out; copy a worker's into the coordinator's \
                authorized-keys directory) and DIR/NAME.key_secret (secret, mode 0600: keep it on the \
                machine that uses it). The files are CZMQ certificates, readable by czmq and pyzmq.
                """)

        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("Directory to write the key files into (created if missing).", valueName: "dir"))
        var out: String

        @Option(help: "Base name of the files and the certificate's metadata name.")
        var name: String = "spikeq"

        @Flag(help: "Overwrite existing key files.")
        var force = false

        func validate() throws {
            guard !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else {
                throw ValidationError("--name must be a plain file name (no '/', not starting with '.'), got '\(name)'.")
            }
        }

        func run() throws {
            global.bootstrapLogging()
            guard ZMQLibrary.hasCurve else {
                throw CommandFailure("This libzmq (\(ZMQLibrary.version)) was built without CURVE support (libsodium).")
            }
            let directory = URL(fileURLWithPath: out, isDirectory: true)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let publicURL = directory.appendingPathComponent("\(name).key")
            let secretURL = CurveCertificate.secretPath(forPublic: publicURL)
            if !force {
                for url in [publicURL, secretURL] where FileManager.default.fileExists(atPath: url.path) {
                    throw CommandFailure("\(url.path) exists; pass --force to replace it.")
                }
            }
            let keys = try CurveKeyPair.generate()
            let host = ProcessInfo.processInfo.hostName
            try CurveCertificate(keys: keys, metadata: [("name", name), ("hostname", host)]).save(to: publicURL)
            print("public-key \(keys.publicKey.z85)")
            print("public     \(publicURL.path)")
            print("secret     \(secretURL.path)")
        }
    }
}
