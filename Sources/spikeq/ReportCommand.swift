import ArgumentParser
import Coordinator
import Foundation
import Report
import RunStore

/// `spikeq report RUN`: the HTML report with SVG figures and their CSV/JSON data.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a run's report: a self-contained HTML page, SVG figures, and CSV/JSON data.",
        discussion: """
            RUN is a run directory, or a name under ./runs/. The report goes to RUN/report unless --out is given; \
            open index.html in a browser. Safe to run while the search runs.
            """)

    @OptionGroup var global: GlobalOptions

    @OptionGroup var runArgument: RunArgument

    @Option(help: ArgumentHelp("Output directory (default: RUN/report).", valueName: "DIR"))
    var out: String?

    func run() throws {
        global.bootstrapLogging()
        let directory = runArgument.directory
        let store = try RunStore.open(at: directory.url, readOnly: true)
        let input = try ReportInput.load(from: store)
        let target = out.map { URL(fileURLWithPath: $0) } ?? directory.report
        let index = try ReportWriter.write(input, to: target)
        for finding in input.findings { print(finding) }
        print("Report: \(index.path)")
    }
}
