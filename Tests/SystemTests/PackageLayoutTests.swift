import Foundation
import Testing

/// The module graph as declared in Package.swift against what the sources import: every
/// first-party or product import is declared, every declared dependency is imported somewhere in the
/// target, and docs/architecture.md's module table lists every library target.
struct PackageLayoutTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Target {
        var name: String
        var kind: String
        var path: String?
        var dependencies: Set<String>
    }

    /// The targets of Package.swift: name, kind, path and dependencies as module names (products
    /// mapped through the `let x = Target.Dependency.product(name: "M", …)` lines).
    static func targets() throws -> [Target] {
        let manifest = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        var products: [String: String] = [:]
        let productLine = try Regex(#"let (\w+) = Target\.Dependency\.product\(name: "(\w+)""#)
        for match in manifest.matches(of: productLine) {
            products[String(match.output[1].substring!)] = String(match.output[2].substring!)
        }
        var targets: [Target] = []
        let head = try Regex(#"\.(target|testTarget|executableTarget|systemLibrary)\(\s*name: "(\w+)""#)
        for match in manifest.matches(of: head) {
            let kind = String(match.output[1].substring!)
            let name = String(match.output[2].substring!)
            // The target's argument list: from its name to the matching close parenthesis.
            var depth = 1
            var index = manifest.index(after: manifest[..<match.range.upperBound].lastIndex(of: "(")!)
            let start = index
            while depth > 0, index < manifest.endIndex {
                if manifest[index] == "(" || manifest[index] == "[" { depth += 1 }
                if manifest[index] == ")" || manifest[index] == "]" { depth -= 1 }
                index = manifest.index(after: index)
            }
            let arguments = String(manifest[start..<index])
            var dependencies: Set<String> = []
            if let list = arguments.firstMatch(of: try Regex(#"dependencies:\s*\[((?:[^\[\]]|\[[^\]]*\])*)\]"#)) {
                let text = String(list.output[1].substring!)
                for quoted in text.matches(of: try Regex(#""(\w+)""#)) {
                    let value = String(quoted.output[1].substring!)
                    // `.product(name: "X", package: "p")` names a module X; the package string is not one.
                    if !text.contains("package: \"\(value)\"") { dependencies.insert(value) }
                }
                // Bare identifiers outside string literals are the product constants (`logging`).
                let unquoted = text.replacing(try Regex(#""[^"]*""#), with: " ")
                for word in unquoted.matches(of: try Regex(#"\b([a-z]\w*)\b"#)) {
                    if let module = products[String(word.output[1].substring!)] { dependencies.insert(module) }
                }
            }
            let path = arguments.firstMatch(of: try Regex(#"path: "([^"]+)""#)).map { String($0.output[1].substring!) }
            targets.append(Target(name: name, kind: kind, path: path, dependencies: dependencies))
        }
        return targets
    }

    static func imports(of target: Target) throws -> Set<String> {
        let folder = target.path ?? (target.kind == "testTarget" ? "Tests/\(target.name)" : "Sources/\(target.name)")
        let directory = root.appendingPathComponent(folder)
        var found: Set<String> = []
        let line = try Regex(#"(?m)^(?:@testable |public |package |internal )?import (\w+)"#)
        guard let files = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else { return [] }
        for case let file as URL in files where file.pathExtension == "swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            for match in text.matches(of: line) { found.insert(String(match.output[1].substring!)) }
        }
        return found
    }

    @Test func everyImportIsDeclaredAndEveryDeclaredDependencyIsImported() throws {
        let targets = try Self.targets()
        #expect(targets.count > 30, "the manifest parser found the targets")
        let declaredModules = Set(targets.map(\.name)).union(try Self.targets().flatMap(\.dependencies))
        for target in targets where target.kind != "systemLibrary" {
            let imported = try Self.imports(of: target)
            // Only modules this package knows (its targets and product modules), not Foundation or Glibc.
            let relevant = imported.intersection(declaredModules).subtracting([target.name])
            let undeclared = relevant.subtracting(target.dependencies)
            #expect(undeclared.isEmpty, "\(target.name) imports \(undeclared.sorted()) without declaring them")
            // C shims are imported by name too; "TestSupport" may be imported by tests only where used.
            let unused = target.dependencies.subtracting(imported)
            #expect(unused.isEmpty, "\(target.name) declares \(unused.sorted()) but never imports them")
        }
    }

    @Test func coordinatorAndBrokerStayOffTheEngine() throws {
        let targets = Dictionary(uniqueKeysWithValues: try Self.targets().map { ($0.name, $0) })
        let coordinator = try #require(targets["Coordinator"])
        #expect(coordinator.dependencies.isDisjoint(with: ["Worker", "Evaluation", "Quantization", "SpikingNN", "Tensor"]))
        let broker = try #require(targets["Broker"])
        #expect(broker.dependencies.subtracting(["Transport", "Wire", "ContentHash", "Threading", "Logging", "ServiceLifecycle"]).isEmpty)
    }

    @Test func theArchitectureTableListsEveryLibrary() throws {
        let table = try String(contentsOf: Self.root.appendingPathComponent("docs/architecture.md"), encoding: .utf8)
        for target in try Self.targets() where target.kind == "target" || target.kind == "systemLibrary" || target.kind == "executableTarget" {
            guard target.name != "TestSupport" else { continue }
            #expect(table.contains("`\(target.name)`"), "docs/architecture.md does not mention the \(target.name) module")
        }
    }
}
