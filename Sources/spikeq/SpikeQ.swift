import ArgumentParser
import Tensor
import Wire

/// The `spikeq` command line. Each subcommand parses its arguments, loads configs, builds the
/// services from the library modules and runs them; no logic lives here.
@main
struct SpikeQ: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spikeq",
        abstract: "Compress spiking transformers by heterogeneous quantization search.",
        discussion: """
            A coordinator explores per-layer quantization schemes (uniform or power-of-two) and bit widths \
            with a multi-objective evolutionary search; workers fine-tune and evaluate each candidate; \
            the result is the Pareto front of accuracy versus energy and the exported models on it. \
            Typical order: dataset prepare, train, search (+ worker on other machines), status, report, export, infer.
            """,
        version: SpikeQuantVersion.string,
        subcommands: [
            SearchCommand.self, WorkerCommand.self, StatusCommand.self, ParetoCommand.self, ReportCommand.self, ExportCommand.self,
            InferCommand.self, EvaluateCommand.self, SupernetCommand.self, SensitivityCommand.self, TrainCommand.self, DatasetCommand.self, ModelCommand.self,
            KeysCommand.self, BenchCommand.self, DashboardCommand.self,
        ]
    )

    /// Restarts with better OpenBLAS kernels when the library does not know this CPU (a 4× sgemm
    /// difference on recent Xeons), then runs the command.
    static func main() async {
        Compute.reexecuteWithBetterBLASKernelsIfNeeded()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
