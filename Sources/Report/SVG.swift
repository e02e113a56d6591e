import Foundation

/// A minimal SVG document builder: elements are appended as text, attributes escaped.
///
/// Figures are plain SVG 1.1 with inline styles only, so they display the same when opened alone,
/// embedded in the HTML report, or imported into a paper.
struct SVGDocument {
    let width: Double
    let height: Double
    private(set) var body: [String] = []

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String, stroke: String? = nil, title: String? = nil) {
        var attributes = "x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(max(0, width)))\" height=\"\(f(max(0, height)))\" fill=\"\(fill)\""
        if let stroke { attributes += " stroke=\"\(stroke)\" stroke-width=\"0.5\"" }
        append("rect", attributes, title: title)
    }

    mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, width: Double = 1, dash: String? = nil) {
        var attributes = "x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(f(width))\""
        if let dash { attributes += " stroke-dasharray=\"\(dash)\"" }
        append("line", attributes)
    }

    mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 1.5) {
        guard !points.isEmpty else { return }
        let list = points.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ")
        append("polyline", "points=\"\(list)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(f(width))\"")
    }

    mutating func circle(cx: Double, cy: Double, r: Double, fill: String, stroke: String? = nil, title: String? = nil) {
        var attributes = "cx=\"\(f(cx))\" cy=\"\(f(cy))\" r=\"\(f(r))\" fill=\"\(fill)\""
        if let stroke { attributes += " stroke=\"\(stroke)\" stroke-width=\"1.2\"" }
        append("circle", attributes, title: title)
    }

    /// A marker shape: circle, square, diamond, triangle, star (for FP32 / baselines / front).
    mutating func marker(_ shape: MarkerShape, x: Double, y: Double, size: Double, fill: String, stroke: String, title: String? = nil) {
        switch shape {
        case .circle:
            circle(cx: x, cy: y, r: size, fill: fill, stroke: stroke, title: title)
        case .square:
            append("rect", "x=\"\(f(x - size))\" y=\"\(f(y - size))\" width=\"\(f(2 * size))\" height=\"\(f(2 * size))\" fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"1.2\"", title: title)
        case .diamond:
            polygon([(x, y - size * 1.3), (x + size * 1.3, y), (x, y + size * 1.3), (x - size * 1.3, y)], fill: fill, stroke: stroke, title: title)
        case .triangle:
            polygon([(x, y - size * 1.3), (x + size * 1.2, y + size), (x - size * 1.2, y + size)], fill: fill, stroke: stroke, title: title)
        case .star:
            var points: [(Double, Double)] = []
            for i in 0..<10 {
                let radius = i % 2 == 0 ? size * 1.6 : size * 0.7
                let angle = Double.pi / 2 + Double(i) * Double.pi / 5
                points.append((x + radius * cos(angle), y - radius * sin(angle)))
            }
            polygon(points, fill: fill, stroke: stroke, title: title)
        }
    }

    mutating func polygon(_ points: [(Double, Double)], fill: String, stroke: String, title: String? = nil) {
        let list = points.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ")
        append("polygon", "points=\"\(list)\" fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"1.2\"", title: title)
    }

    mutating func text(
        _ content: String, x: Double, y: Double, size: Double = 11, anchor: String = "start", weight: String = "normal",
        rotate: Double? = nil, fill: String = "#222"
    ) {
        var attributes = "x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(f(size))\" text-anchor=\"\(anchor)\" font-weight=\"\(weight)\" fill=\"\(fill)\""
        if let rotate { attributes += " transform=\"rotate(\(f(rotate)) \(f(x)) \(f(y)))\"" }
        body.append("<text \(attributes)>\(escape(content))</text>")
    }

    private mutating func append(_ element: String, _ attributes: String, title: String? = nil) {
        if let title {
            body.append("<\(element) \(attributes)><title>\(escape(title))</title></\(element)>")
        } else {
            body.append("<\(element) \(attributes)/>")
        }
    }

    /// The complete SVG text.
    var text: String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="Helvetica, Arial, sans-serif">
        <rect x="0" y="0" width="\(f(width))" height="\(f(height))" fill="#ffffff"/>
        \(body.joined(separator: "\n"))
        </svg>

        """
    }

    private func f(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        // A damaged run can put huge or non-finite numbers on an axis; SVG can draw neither.
        guard rounded.isFinite else { return "0" }
        return abs(rounded) < 1e15 && rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}

enum MarkerShape: String, Sendable {
    case circle, square, diamond, triangle, star
}

/// Escapes text for XML/HTML content and attribute values.
func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for character in text {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(character)
        }
    }
    return out
}
