import ConfigFiles
import Foundation
import Seeding

/// What preparing a dataset will do: the classes, the units of work (one recording or one generated
/// sample each) and every input file that goes into the fingerprint. Building a plan lists
/// directories and reads only the small split lists, never an event file.
package struct DatasetPlan: Sendable {
    enum Work: Hashable, Sendable {
        /// A DVS128 Gesture recording cut by its labels CSV; all its samples go to `split`.
        case gestureRecording(recording: String, labels: String, split: DatasetSplit)
        /// One event file that is one sample.
        case labelledFile(path: String, label: Int, split: DatasetSplit)
        /// One synthetic sample.
        case synthetic(split: DatasetSplit, index: Int, label: Int)
    }

    struct Unit: Hashable, Sendable {
        var work: Work
        /// Relative path (or synthetic id) used in messages and sample origins.
        var name: String
    }

    var classNames: [String]
    var units: [Unit]
    /// Files (relative to the root) whose contents define the dataset.
    var inputFiles: [String]
    var root: String?
    var sensor: SensorSize

    static func make(_ config: DatasetConfig) throws -> DatasetPlan {
        if config.kind == .syntheticGestures { return synthetic(config) }
        guard let root = config.resolvedRoot, let sensor = config.effectiveSensor else {
            throw ConfigError(file: config.sourceFile, key: "root", message: "missing")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw EventDataError(.missingFile, file: root, message: "dataset root does not exist or is not a directory")
        }
        switch config.kind {
        case .dvs128Gesture: return try gesture(root: root, sensor: sensor)
        case .cifar10DVS: return try folders(config, root: root, sensor: sensor, classes: cifar10Classes, extensions: [".aedat"])
        case .nCaltech101: return try folders(config, root: root, sensor: sensor, classes: nil, extensions: [".bin"])
        case .eventFolders:
            return try folders(config, root: root, sensor: sensor, classes: nil, extensions: [".aedat", ".aedat4", ".bin"])
        case .nMNIST: return try nMNIST(root: root, sensor: sensor)
        case .syntheticGestures: fatalError("handled above")
        }
    }

    static let cifar10Classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    // MARK: synthetic

    static func synthetic(_ config: DatasetConfig) -> DatasetPlan {
        var units: [Unit] = []
        let classes = SyntheticGestureClass.allCases
        for split in DatasetSplit.allCases {
            for index in 0..<config.synthetic.count(of: split) {
                for gesture in classes {
                    let sample = index * classes.count + gesture.rawValue
                    units.append(
                        Unit(work: .synthetic(split: split, index: sample, label: gesture.rawValue), name: "synthetic/\(split.rawValue)/\(sample)"))
                }
            }
        }
        return DatasetPlan(classNames: classes.map(\.name), units: units, inputFiles: [], root: nil, sensor: .dvs128)
    }

    // MARK: DVS128 Gesture

    static func gesture(root: String, sensor: SensorSize) throws -> DatasetPlan {
        var units: [Unit] = []
        var inputs: [String] = []
        for (listName, split) in [("trials_to_train.txt", DatasetSplit.train), ("trials_to_test.txt", .test)] {
            let recordings = try GestureLabels.trials(path: "\(root)/\(listName)")
            inputs.append(listName)
            for recording in recordings {
                let labels = GestureLabels.labelsName(for: recording)
                units.append(Unit(work: .gestureRecording(recording: recording, labels: labels, split: split), name: recording))
                inputs += [recording, labels]
            }
        }
        return DatasetPlan(classNames: GestureLabels.classNames, units: units, inputFiles: inputs, root: root, sensor: sensor)
    }

    // MARK: folder per class

    /// `root/<class>/<file>` datasets split by file order, file number or a seeded draw.
    static func folders(
        _ config: DatasetConfig, root: String, sensor: SensorSize, classes fixed: [String]?, extensions: [String]
    ) throws -> DatasetPlan {
        let available = try fixed ?? subdirectories(of: root)
        for excluded in config.excludedClasses where !available.contains(excluded) {
            throw ConfigError(file: config.sourceFile, key: "exclude_classes", message: "`\(excluded)` is not a class of \(root)")
        }
        let kept = available.filter { !config.excludedClasses.contains($0) }
        guard !kept.isEmpty else { throw EventDataError(.emptyDataset, file: root, message: "no class folders") }
        var units: [Unit] = []
        var inputs: [String] = []
        for (label, name) in kept.enumerated() {
            let folder = "\(root)/\(name)"
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw EventDataError(.missingFile, file: folder, message: "class folder `\(name)` is missing")
            }
            let files = try regularFiles(in: folder).filter { file in extensions.contains { file.lowercased().hasSuffix($0) } }
            let splits = try assignSplits(files, label: name, folder: folder, split: config.split)
            for (file, split) in zip(files, splits) {
                let relative = "\(name)/\(file)"
                units.append(Unit(work: .labelledFile(path: relative, label: label, split: split), name: relative))
                inputs.append(relative)
            }
        }
        return DatasetPlan(classNames: kept, units: units, inputFiles: inputs, root: root, sensor: sensor)
    }

    /// Train or test for each of a class's files (sorted byte-wise), by the split mode.
    package static func assignSplits(_ files: [String], label: String, folder: String, split: SplitSettings) throws -> [DatasetSplit] {
        switch split.mode {
        case .firstFraction:
            // SpikingJelly split_to_train_test_set: the first ceil(n · ratio) of the class are train.
            let train = Int((Double(files.count) * split.trainFraction).rounded(.up))
            return files.indices.map { $0 < train ? .train : .test }
        case .tebn:
            return try files.map { file in
                guard let number = trailingNumber(file) else {
                    throw EventDataError(
                        .badLabels, file: "\(folder)/\(file)", message: "the TEBN split needs a file number (cifar10_<class>_<n>.aedat)")
                }
                return number < 100 ? .test : .train
            }
        case .random:
            var rng = SeededGenerator(seed: split.seed, stream: "split/\(label)")
            var order = Array(files.indices)
            order.shuffle(using: &rng)
            let train = Int((Double(files.count) * split.trainFraction).rounded())
            var result = [DatasetSplit](repeating: .test, count: files.count)
            for i in order.prefix(train) { result[i] = .train }
            return result
        case .official:
            return files.map { _ in .train }
        }
    }

    /// `cifar10_cat_123.aedat` → 123.
    static func trailingNumber(_ file: String) -> Int? {
        let stem = file.split(separator: ".").first.map(String.init) ?? file
        let digits = stem.reversed().prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty else { return nil }
        return Int(String(digits.reversed()))
    }

    // MARK: N-MNIST

    static func nMNIST(root: String, sensor: SensorSize) throws -> DatasetPlan {
        let classNames = try subdirectories(of: "\(root)/Train")
        guard !classNames.isEmpty else { throw EventDataError(.emptyDataset, file: "\(root)/Train", message: "no digit folders") }
        var units: [Unit] = []
        var inputs: [String] = []
        for (folder, split) in [("Train", DatasetSplit.train), ("Test", .test)] {
            for (label, name) in classNames.enumerated() {
                let directory = "\(root)/\(folder)/\(name)"
                for file in try regularFiles(in: directory) where file.lowercased().hasSuffix(".bin") {
                    let relative = "\(folder)/\(name)/\(file)"
                    units.append(Unit(work: .labelledFile(path: relative, label: label, split: split), name: relative))
                    inputs.append(relative)
                }
            }
        }
        return DatasetPlan(classNames: classNames, units: units, inputFiles: inputs, root: root, sensor: sensor)
    }

    // MARK: directory listing

    /// Sorts names byte-wise (Python's `sorted` on ASCII names; what torchvision's DatasetFolder uses).
    static func byteOrder(_ names: [String]) -> [String] {
        names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    static func contents(of directory: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory).filter { !$0.hasPrefix(".") }
        } catch {
            throw EventDataError(.missingFile, file: directory, message: "cannot list directory: \(error.localizedDescription)")
        }
    }

    static func subdirectories(of directory: String) throws -> [String] {
        byteOrder(
            try contents(of: directory).filter { name in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: "\(directory)/\(name)", isDirectory: &isDirectory) && isDirectory.boolValue
            })
    }

    static func regularFiles(in directory: String) throws -> [String] {
        byteOrder(
            try contents(of: directory).filter { name in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: "\(directory)/\(name)", isDirectory: &isDirectory) && !isDirectory.boolValue
            })
    }
}
