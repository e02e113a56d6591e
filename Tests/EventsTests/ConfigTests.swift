import ConfigFiles
import Events
import Foundation
import TestSupport
import Testing

struct DatasetConfigTests {
    static var configsDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("configs/datasets").path
    }

    @Test(arguments: ["synthetic-gestures", "dvs128-gesture", "cifar10-dvs", "n-caltech101", "n-mnist"])
    func shippedConfigsParse(name: String) throws {
        let config = try DatasetConfig.load(path: "\(Self.configsDirectory)/\(name).yaml")
        #expect(config.kind.rawValue == name)
        #expect(config.sourceFile?.hasSuffix("\(name).yaml") == true)
    }

    @Test func syntheticDefaultsMatchTheTinyModel() throws {
        let config = try DatasetConfig.load(path: "\(Self.configsDirectory)/synthetic-gestures.yaml")
        #expect(config.frames == FrameSettings(timeSteps: 8, splitBy: .number, height: 32, width: 32, resize: .sum))
        #expect(config.synthetic == SyntheticGestureSettings())
        #expect(config.augmentation == AugmentationSettings(translate: 2, horizontalFlip: false))
    }

    @Test func defaultsPerKind() throws {
        let cifar = try DatasetConfig.parse("kind: cifar10-dvs\nroot: data/c\n")
        #expect(cifar.split.mode == .firstFraction)
        #expect(cifar.frames.timeSteps == 16 && cifar.frames.height == 128)
        #expect(cifar.orientation == .spikingjelly)
        #expect(cifar.resolvedRoot == FileManager.default.currentDirectoryPath + "/data/c")
        let caltech = try DatasetConfig.parse("kind: n-caltech101\nroot: /d\nframes: {size: [45, 60]}\n")
        #expect(caltech.effectiveSensor == .nCaltech101)
        #expect(caltech.frames.height == 45 && caltech.frames.width == 60)
    }

    @Test(arguments: [
        ("kind: cifar10-dvs\nroot: x\nframez: {}\n", "framez"),
        ("kind: cifar10-dvs\nroot: x\nframes: {stepz: 3}\n", "frames.stepz"),
        ("kind: cifar10-dvs\nroot: x\nframes: {steps: 0}\n", "frames.steps"),
        ("kind: cifar10-dvs\nroot: x\nframes: {steps: eight}\n", "frames.steps"),
        ("kind: cifar10-dvs\nroot: x\nframes: {split_by: size}\n", "frames.split_by"),
        ("kind: cifar10-dvs\nroot: x\nframes: {size: [32]}\n", "frames.size"),
        ("kind: cifar10-dvs\nroot: x\nsplit: {mode: official}\n", "split.mode"),
        ("kind: cifar10-dvs\nroot: x\nsplit: {validation_fraction: 1.5}\n", "split.validation_fraction"),
        ("kind: cifar10-dvs\nroot: x\norientation: sideways\n", "orientation"),
        ("kind: cifar10-dvs\nroot: x\naugmentation: {translate: 100}\n", "augmentation.translate"),
        ("kind: cifar10-dvs\nroot: x\nstrict: maybe\n", "strict"),
        ("kind: dvs128-gesture\nroot: x\naugmentation: {hflip: true}\n", "augmentation.hflip"),
        ("kind: dvs128-gesture\nroot: x\norientation: jaer\n", "orientation"),
        ("kind: dvs128-gesture\n", "root"),
        ("kind: synthetic-gestures\nroot: x\n", "root"),
        ("kind: synthetic-gestures\naugmentation: {hflip: true}\n", "augmentation.hflip"),
        ("kind: synthetic-gestures\nsynthetic: {noise_rate_hz: -1}\n", "synthetic.noise_rate_hz"),
        ("kind: synthetic-gestures\nsynthetic: {speed: [2, 1]}\n", "synthetic.speed[1]"),
        ("kind: synthetic-gestures\nsynthetic: {bogus: 1}\n", "synthetic.bogus"),
        ("kind: event-folders\nroot: x\n", "sensor"),
        ("kind: event-folders\nroot: x\nsensor: [5000, 128]\n", "sensor[0]"),
        ("kind: event-folders\nroot: x\nsensor: [64, 64]\nreader_limits: {max_file_mib: 0}\n", "reader_limits.max_file_mib"),
        ("kind: event-folders\nroot: x\nsensor: [64, 64]\nreader_limits: {max_packet_mib: 5000}\n", "reader_limits.max_packet_mib"),
        ("kind: event-folders\nroot: x\nsensor: [64, 64]\nreader_limits: {max_bytes: 1}\n", "reader_limits.max_bytes"),
        ("kind: cifar10-dvs\nroot: x\nreader_limits: {max_file_mib: 10}\n", "reader_limits"),
        ("kind: mnist\n", "kind"),
        ("root: x\n", "kind"),
        ("- just\n- a list\n", "(document)"),
        ("kind: [unclosed\n", "(document)"),
    ])
    func badValuesNameFileAndKey(text: String, key: String) throws {
        let error = try #require(throws: ConfigError.self) { try DatasetConfig.parse(text, file: "configs/datasets/bad.yaml") }
        #expect(error.key == key)
        #expect(error.file == "configs/datasets/bad.yaml")
        #expect(error.description.hasPrefix("configs/datasets/bad.yaml:" + (error.line.map { "\($0):" } ?? "") + " \(key):"))
    }

    /// A dataset config also reaches workers inside dispatches; an alias bomb there is refused
    /// before it expands (ConfigYAML), not read until memory runs out.
    @Test func aliasBombsAreRefused() throws {
        let error = try #require(throws: ConfigError.self) { try DatasetConfig.parse(CraftedYAML.aliasBomb(levels: 6), file: "d.yaml") }
        #expect(error.key == "(document)" && error.message.contains("expands to more than"), "\(error)")
    }

    /// Errors name the line of the offending key too (block style, as users write configs).
    @Test(arguments: [
        ("kind: cifar10-dvs\nroot: x\nframez: {}\n", 3),
        ("kind: cifar10-dvs\nroot: x\nframes:\n  size: 32\n  steps: 0\n", 5),
        ("kind: synthetic-gestures\nsynthetic:\n  speed:\n    - 2\n    - 1\n", 5),
        ("# a comment\nkind: mnist\n", 2),
    ])
    func badValuesNameTheirLine(text: String, line: Int) throws {
        let error = try #require(throws: ConfigError.self) { try DatasetConfig.parse(text, file: "bad.yaml") }
        #expect(error.line == line, "\(error)")
        #expect(error.description.hasPrefix("bad.yaml:\(line): "))
        // A missing key has no line to point at.
        #expect(try #require(throws: ConfigError.self) { try DatasetConfig.parse("root: x\n", file: "bad.yaml") }.line == nil)
    }

    @Test func missingConfigFileIsReported() throws {
        let error = try #require(throws: ConfigError.self) { try DatasetConfig.load(path: "/nonexistent/data.yaml") }
        #expect(error.file == "/nonexistent/data.yaml")
    }
}
