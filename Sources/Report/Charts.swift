import Foundation

/// One set of points drawn with one marker style.
struct ScatterSeries {
    var name: String
    var shape: MarkerShape
    var fill: String
    var stroke: String
    var size: Double = 4
    /// x, y and a hover title.
    var points: [(x: Double, y: Double, title: String)]
}

/// Axes, grid, title and legend shared by the charts.
struct ChartFrame {
    var width: Double = 640
    var height: Double = 400
    var title: String
    var xLabel: String
    var yLabel: String
    var margin = (left: 70.0, right: 170.0, top: 40.0, bottom: 55.0)

    var plotLeft: Double { margin.left }
    var plotRight: Double { width - margin.right }
    var plotTop: Double { margin.top }
    var plotBottom: Double { height - margin.bottom }

    func draw(on svg: inout SVGDocument, x: Scale, y: Scale, xFormat: (Double) -> String = tickLabel, yFormat: (Double) -> String = tickLabel) {
        svg.text(title, x: width / 2, y: 22, size: 14, anchor: "middle", weight: "bold")
        for tick in x.ticks() {
            let px = x(tick)
            svg.line(x1: px, y1: plotTop, x2: px, y2: plotBottom, stroke: "#e5e5e5")
            svg.text(xFormat(tick), x: px, y: plotBottom + 16, size: 10, anchor: "middle")
        }
        for tick in y.ticks() {
            let py = y(tick)
            svg.line(x1: plotLeft, y1: py, x2: plotRight, y2: py, stroke: "#e5e5e5")
            svg.text(yFormat(tick), x: plotLeft - 6, y: py + 3.5, size: 10, anchor: "end")
        }
        svg.line(x1: plotLeft, y1: plotBottom, x2: plotRight, y2: plotBottom, stroke: "#444")
        svg.line(x1: plotLeft, y1: plotTop, x2: plotLeft, y2: plotBottom, stroke: "#444")
        svg.text(xLabel, x: (plotLeft + plotRight) / 2, y: height - 14, size: 12, anchor: "middle")
        svg.text(yLabel, x: 16, y: (plotTop + plotBottom) / 2, size: 12, anchor: "middle", rotate: -90)
    }

    /// A legend to the right of the plot area, clear of the data.
    func legend(on svg: inout SVGDocument, entries: [(name: String, shape: MarkerShape, fill: String, stroke: String)]) {
        guard !entries.isEmpty else { return }
        let left = plotRight + 12
        for (i, entry) in entries.enumerated() {
            let y = plotTop + 18 + Double(i) * 16
            svg.marker(entry.shape, x: left + 12, y: y - 3.5, size: 4, fill: entry.fill, stroke: entry.stroke)
            svg.text(entry.name, x: left + 22, y: y, size: 10)
        }
    }
}

enum Charts {
    /// A scatter plot; `front` (already sorted by x) is drawn as a step line under the points.
    static func scatter(
        frame: ChartFrame, series: [ScatterSeries], front: [(x: Double, y: Double)] = [], xKind: Scale.Kind = .linear,
        xFormat: @escaping (Double) -> String = tickLabel, yFormat: @escaping (Double) -> String = tickLabel
    ) -> String {
        var svg = SVGDocument(width: frame.width, height: frame.height)
        let xs = series.flatMap { $0.points.map(\.x) }
        let ys = series.flatMap { $0.points.map(\.y) }
        let x = Scale(covering: xs, range: (frame.plotLeft, frame.plotRight), kind: xKind)
        let y = Scale(covering: ys, range: (frame.plotBottom, frame.plotTop))
        frame.draw(on: &svg, x: x, y: y, xFormat: xFormat, yFormat: yFormat)
        if front.count > 1 {
            var steps: [(Double, Double)] = []
            for (i, point) in front.enumerated() {
                if i > 0 { steps.append((x(point.x), y(front[i - 1].y))) }
                steps.append((x(point.x), y(point.y)))
            }
            svg.polyline(steps, stroke: "#d62728", width: 1.5)
        }
        for s in series {
            for p in s.points {
                svg.marker(s.shape, x: x(p.x), y: y(p.y), size: s.size, fill: s.fill, stroke: s.stroke, title: p.title)
            }
        }
        frame.legend(on: &svg, entries: series.filter { !$0.points.isEmpty }.map { ($0.name, $0.shape, $0.fill, $0.stroke) })
        return svg.text
    }

    /// Line plot of several named series.
    static func lines(frame: ChartFrame, series: [(name: String, color: String, points: [(x: Double, y: Double)])]) -> String {
        var svg = SVGDocument(width: frame.width, height: frame.height)
        let x = Scale(covering: series.flatMap { $0.points.map(\.x) }, range: (frame.plotLeft, frame.plotRight), includeZero: true)
        let y = Scale(covering: series.flatMap { $0.points.map(\.y) }, range: (frame.plotBottom, frame.plotTop), includeZero: true)
        frame.draw(on: &svg, x: x, y: y)
        for s in series {
            svg.polyline(s.points.map { (x($0.x), y($0.y)) }, stroke: s.color, width: 2)
            for p in s.points { svg.circle(cx: x(p.x), cy: y(p.y), r: 2, fill: s.color) }
        }
        frame.legend(on: &svg, entries: series.map { ($0.name, .circle, $0.color, $0.color) })
        return svg.text
    }

    /// A grid of labelled, coloured cells: one row per model, one column per layer.
    static func heatMap(
        title: String, rows: [String], columns: [String], cells: [[(label: String, color: String, title: String, dark: Bool)]],
        legend: [(name: String, color: String)]
    ) -> String {
        let cell = 30.0
        let left = 10 + 7.2 * Double(rows.map(\.count).max() ?? 4)
        let top = 60 + 6.2 * Double(columns.map(\.count).max() ?? 4)
        let width = left + cell * Double(columns.count) + 140
        let height = max(top + cell * Double(rows.count) + 30, top + 20 + 16 * Double(legend.count))
        var svg = SVGDocument(width: width, height: height)
        svg.text(title, x: 10, y: 22, size: 14, weight: "bold")
        for (j, column) in columns.enumerated() {
            let x = left + cell * (Double(j) + 0.6)
            svg.text(column, x: x, y: top - 6, size: 10, rotate: -60)
        }
        for (i, row) in rows.enumerated() {
            let y = top + cell * Double(i)
            svg.text(row, x: left - 6, y: y + cell / 2 + 4, size: 11, anchor: "end")
            for (j, value) in cells[i].enumerated() {
                let x = left + cell * Double(j)
                svg.rect(x: x, y: y, width: cell - 1, height: cell - 1, fill: value.color, title: value.title)
                svg.text(value.label, x: x + cell / 2, y: y + cell / 2 + 4, size: 10, anchor: "middle", fill: value.dark ? "#fff" : "#111")
            }
        }
        let legendLeft = left + cell * Double(columns.count) + 16
        for (k, entry) in legend.enumerated() {
            let y = top + 16 * Double(k)
            svg.rect(x: legendLeft, y: y, width: 12, height: 12, fill: entry.color)
            svg.text(entry.name, x: legendLeft + 18, y: y + 10, size: 10)
        }
        return svg.text
    }

    /// Busy intervals per worker over time (a Gantt chart).
    static func timeline(
        frame: ChartFrame, rows: [String], bars: [(row: Int, start: Double, end: Double, color: String, title: String)],
        legend: [(name: String, color: String)]
    ) -> String {
        var framed = frame
        framed.margin.left = max(frame.margin.left, 10 + 6.5 * Double(rows.map(\.count).max() ?? 6))
        framed.height = max(frame.height, framed.margin.top + framed.margin.bottom + 22 * Double(rows.count))
        var svg = SVGDocument(width: framed.width, height: framed.height)
        let end = max(bars.map(\.end).max() ?? 1, 1)
        let x = Scale(covering: [0, end], range: (framed.plotLeft, framed.plotRight), padding: 0)
        svg.text(framed.title, x: framed.width / 2, y: 22, size: 14, anchor: "middle", weight: "bold")
        for tick in x.ticks() {
            svg.line(x1: x(tick), y1: framed.plotTop, x2: x(tick), y2: framed.plotBottom, stroke: "#e5e5e5")
            svg.text(tickLabel(tick), x: x(tick), y: framed.plotBottom + 16, size: 10, anchor: "middle")
        }
        let rowHeight = (framed.plotBottom - framed.plotTop) / Double(max(rows.count, 1))
        for (i, row) in rows.enumerated() {
            svg.text(row, x: framed.plotLeft - 6, y: framed.plotTop + rowHeight * (Double(i) + 0.5) + 4, size: 10, anchor: "end")
        }
        for bar in bars {
            let top = framed.plotTop + rowHeight * Double(bar.row) + 3
            svg.rect(x: x(bar.start), y: top, width: x(bar.end) - x(bar.start), height: rowHeight - 6, fill: bar.color, title: bar.title)
        }
        svg.line(x1: framed.plotLeft, y1: framed.plotBottom, x2: framed.plotRight, y2: framed.plotBottom, stroke: "#444")
        svg.text(framed.xLabel, x: (framed.plotLeft + framed.plotRight) / 2, y: framed.height - 14, size: 12, anchor: "middle")
        framed.legend(on: &svg, entries: legend.map { ($0.name, .square, $0.color, $0.color) })
        return svg.text
    }
}
