import Foundation
import RunStore
import Testing

struct RunDirectoryTests {
    @Test func namesTheFilesTheDocsDescribe() {
        let run = RunDirectory(URL(fileURLWithPath: "/data/runs/demo/"))
        #expect(run.database.path == "/data/runs/demo/run.sqlite")
        #expect(run.config.path == "/data/runs/demo/search.yaml")
        #expect(run.baseCheckpoint.path == "/data/runs/demo/base.safetensors")
        #expect(run.artifact(configHash: "ab12").path == "/data/runs/demo/artifacts/ab12.safetensors")
        #expect(run.logs.path == "/data/runs/demo/logs")
        #expect(run.cache.path == "/data/runs/demo/cache")
        #expect(run.report.path == "/data/runs/demo/report")
    }

    @Test func locatesARunByPathOrName() throws {
        let root = Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("runs/demo")
        _ = try RunStore.create(at: run, metadata: Fixtures.metadata())
        let expected = run.standardizedFileURL.path
        #expect(RunDirectory.locate("demo", workingDirectory: root).url.path == expected)
        #expect(RunDirectory.locate("runs/demo", workingDirectory: root).url.path == expected)
        #expect(RunDirectory.locate(run.path, workingDirectory: URL(fileURLWithPath: "/")).url.path == expected)
        // Nothing there: the path as given, so the open fails naming it.
        let missing = RunDirectory.locate("nothing", workingDirectory: root)
        #expect(missing.url.path == root.appendingPathComponent("nothing").standardizedFileURL.path)
        #expect(!missing.holdsRun)
        #expect(throws: RunStoreError.self) { try RunStore.open(at: missing.url, readOnly: true) }
    }
}
