import Foundation
import Testing
import Yams

/// The Kubernetes manifests cannot be applied here (no cluster), so they are checked for what breaks
/// deployments in practice: shape, label selectors, Service wiring, Secret and volume names, and
/// that every `spikeq` argument in them is one the binary accepts.
struct KubernetesManifestTests {
    static let directory = MiniRun.repository.appendingPathComponent("cluster/k8s")

    static func documents() throws -> [(file: String, document: [String: Any])] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        return try files.flatMap { file in
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            return try Yams.load_all(yaml: text).compactMap { $0 as? [String: Any] }.map { (file, $0) }
        }
    }

    static func named(_ kind: String, _ name: String, in documents: [(file: String, document: [String: Any])]) -> [String: Any]? {
        documents.first { $0.document["kind"] as? String == kind && ($0.document["metadata"] as? [String: Any])?["name"] as? String == name }?.document
    }

    static func value(_ object: Any?, _ path: String...) -> Any? {
        path.reduce(object) { ($0 as? [String: Any])?[$1] }
    }

    @Test func manifestsAreWellFormedAndWiredTogether() throws {
        let documents = try Self.documents()
        #expect(Set(documents.map(\.file)) == ["coordinator.yaml", "secrets.yaml", "workers.yaml"])
        for (file, document) in documents {
            #expect(document["apiVersion"] is String && document["kind"] is String, "\(file)")
            #expect((Self.value(document, "metadata", "name") as? String)?.isEmpty == false, "\(file)")
        }

        // Deployments: selectors select their own pods; secrets and claims they mount exist.
        let deployments = documents.filter { $0.document["kind"] as? String == "Deployment" }.map(\.document)
        #expect(deployments.count == 2)
        for deployment in deployments {
            let selector = try #require(Self.value(deployment, "spec", "selector", "matchLabels") as? [String: String])
            let labels = try #require(Self.value(deployment, "spec", "template", "metadata", "labels") as? [String: String])
            #expect(selector.allSatisfy { labels[$0.key] == $0.value })
            let volumes = Self.value(deployment, "spec", "template", "spec", "volumes") as? [[String: Any]] ?? []
            for volume in volumes {
                if let secret = Self.value(volume, "secret", "secretName") as? String {
                    #expect(Self.named("Secret", secret, in: documents) != nil, "secret \(secret)")
                }
                if let claim = Self.value(volume, "persistentVolumeClaim", "claimName") as? String {
                    #expect(Self.named("PersistentVolumeClaim", claim, in: documents) != nil, "claim \(claim)")
                }
            }
            let containers = try #require(Self.value(deployment, "spec", "template", "spec", "containers") as? [[String: Any]])
            for container in containers {
                let mounts = (container["volumeMounts"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                #expect(Set(mounts).isSubset(of: volumes.compactMap { $0["name"] as? String }))
            }
        }

        // The Service selects the coordinator, targets its named port, and is what workers dial.
        let service = try #require(Self.named("Service", "spikeq-coordinator", in: documents))
        let coordinator = try #require(Self.named("Deployment", "spikeq-coordinator", in: documents))
        let coordinatorLabels = try #require(Self.value(coordinator, "spec", "template", "metadata", "labels") as? [String: String])
        let serviceSelector = try #require(Self.value(service, "spec", "selector") as? [String: String])
        #expect(serviceSelector.allSatisfy { coordinatorLabels[$0.key] == $0.value })
        let servicePort = try #require((Self.value(service, "spec", "ports") as? [[String: Any]])?.first)
        let container = try #require((Self.value(coordinator, "spec", "template", "spec", "containers") as? [[String: Any]])?.first)
        let containerPorts = container["ports"] as? [[String: Any]] ?? []
        #expect(containerPorts.contains { $0["name"] as? String == servicePort["targetPort"] as? String })
        let worker = try #require(Self.named("Deployment", "spikeq-worker", in: documents))
        let workerArgs = try #require((Self.value(worker, "spec", "template", "spec", "containers") as? [[String: Any]])?.first?["args"] as? [String])
        #expect(workerArgs.contains("--connect=tcp://spikeq-coordinator:\(servicePort["port"] as? Int ?? 0)"))
        let coordinatorArgs = try #require(container["args"] as? [String])
        #expect(coordinatorArgs.contains("--bind=tcp://*:\(containerPorts.first?["containerPort"] as? Int ?? 0)"))
    }

    /// Every `--option` in a container's args is listed by `spikeq <command> --help`.
    @Test func everySpikeqArgumentExists() async throws {
        let logs = Net.temporaryDirectory("k8s")
        defer { try? FileManager.default.removeItem(at: logs) }
        for (file, document) in try Self.documents() where document["kind"] as? String == "Deployment" {
            let containers = Self.value(document, "spec", "template", "spec", "containers") as? [[String: Any]] ?? []
            for container in containers {
                let args = try #require(container["args"] as? [String], "\(file)")
                let command = try #require(args.first)
                #expect(["search", "worker"].contains(command), "\(file)")
                let help = try SpikeqProcess([command, "--help"], log: logs.appendingPathComponent("\(command)-help.log"))
                #expect(await help.exitStatus(within: .seconds(30)) == 0)
                for option in args.dropFirst() {
                    let name = String(option.split(separator: "=", maxSplits: 1)[0])
                    #expect(name.hasPrefix("--") && (help.output.contains(name + " ") || help.output.contains(name + "\n")),
                            "\(file): spikeq \(command) has no option \(name)")
                }
            }
        }
    }
}
