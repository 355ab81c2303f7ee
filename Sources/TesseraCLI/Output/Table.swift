import Foundation
import TesseraQueue

/// A plain text table: columns padded to the widest cell, long cells cut with an ellipsis.
struct Table {
    let headers: [String]
    var rows: [[String]] = []
    var maxWidth = 60

    init(_ headers: [String]) { self.headers = headers }

    mutating func add(_ row: [String]) { rows.append(row) }

    func render() -> String {
        let cut = rows.map { $0.map { Self.clip($0, maxWidth) } }
        var widths = headers.map(\.count)
        for row in cut { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i == cells.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(headers)] + cut.map(line)).joined(separator: "\n")
    }

    /// One line, control characters shown as escapes so a prompt cannot break the table.
    static func clip(_ text: String, _ width: Int) -> String {
        var visible = ""
        for scalar in text.unicodeScalars {
            if scalar.properties.generalCategory == .control {
                visible += scalar == "\n" ? "\\n" : scalar == "\t" ? "\\t" : "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                visible.unicodeScalars.append(scalar)
            }
        }
        return visible.count > width ? String(visible.prefix(width - 1)) + "…" : visible
    }
}

/// `[#########-----------]  45%`
func progressBar(_ fraction: Double, width: Int = 24) -> String {
    let clamped = min(max(fraction, 0), 1)
    let filled = Int((clamped * Double(width)).rounded())
    return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
        + String(format: "%3d%%", Int((clamped * 100).rounded()))
}

/// "12:03:04" for today, "2026-11-24 12:03" otherwise.
func shortTime(_ date: Date?) -> String {
    guard let date else { return "-" }
    let formatter = DateFormatter()
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = Calendar.current.isDateInToday(date) ? "HH:mm:ss" : "yyyy-MM-dd HH:mm"
    return formatter.string(from: date)
}

/// "3.2s", "4m05s", "1h02m".
func shortDuration(_ seconds: Double) -> String {
    if seconds < 60 { return String(format: "%.1fs", seconds) }
    if seconds < 3600 { return String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60) }
    return String(format: "%dh%02dm", Int(seconds) / 3600, (Int(seconds) % 3600) / 60)
}

/// The jobs table shared by `tessera jobs` and `tessera demo`.
func jobsTable(_ jobs: [Job]) -> String {
    var table = Table(["ID", "BATCH", "STATE", "TRY", "PROGRESS", "ORIENT", "CREATED", "PROMPT"])
    for job in jobs {
        table.add([
            "\(job.id)", "\(job.batchID)", job.state.rawValue + (job.cancelRequested && job.state == .running ? "*" : ""),
            "\(job.attempt)/\(job.spec.maxAttempts)", job.state == .running ? String(format: "%3.0f%%", job.progress * 100) : "",
            job.spec.orientation.rawValue, shortTime(job.createdAt), job.spec.prompt,
        ])
    }
    return table.render()
}
