// Report
//
// The run report: SVG figures, the self-contained HTML page, and the CSV/JSON data behind every figure.
