import ArgumentParser
import Foundation
import TesseraWorld

extension TrainCommand {
    /// `tessera train compare-prompts`: two `eval-prompts` reports, prompt by prompt.
    struct ComparePrompts: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "compare-prompts",
            abstract: "Compare two models' eval-prompts reports prompt by prompt: the paired difference and its standard error.",
            discussion: """
                Each REPORT is an eval-prompts report.json or the folder holding it. Both must score the same prompts in \
                the same order. Prints every prompt's two scores, the paired mean difference (candidate − baseline) with \
                its standard error and how many prompts went each way, and, where both reports carry them, the share of \
                each kind of fact (shape, position, motion, …) each model gets right.
                """)

        @Argument(help: "The baseline's report.json (or its folder).")
        var baseline: String
        @Argument(help: "The candidate's report.json (or its folder).")
        var candidate: String
        @OptionGroup var output: OutputOptions

        /// The parts of an eval-prompts report a comparison reads.
        struct Report: Decodable {
            struct Row: Decodable {
                var prompt: String
                var orientation: String
                var score: Double
            }
            var rows: [Row]
            var chance: Double?
            var facts: [FactTally]?
        }

        struct Comparison: Encodable {
            struct Row: Encodable {
                var prompt: String
                var orientation: String
                var baseline: Double
                var candidate: Double
            }
            var baseline: String
            var candidate: String
            var paired: PairedComparison
            var landscape: PairedComparison?
            var portrait: PairedComparison?
            var baselineChance: Double?
            var candidateChance: Double?
            var baselineFacts: [FactTally]?
            var candidateFacts: [FactTally]?
            var rows: [Row]
        }

        static func load(_ path: String) throws -> (path: String, report: Report) {
            var isFolder: ObjCBool = false
            let file = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
                ? (path.hasSuffix("/") ? path : path + "/") + "report.json" : path
            guard let data = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read \(file)") }
            do {
                let report = try JSONDecoder().decode(Report.self, from: data)
                guard !report.rows.isEmpty else { throw CLIError("it scores no prompts") }
                return (file, report)
            } catch {
                throw CLIError("\(file) is not an eval-prompts report: \(error)")
            }
        }

        /// Says what keeps two loaded reports from pairing: a different number of prompts, or a prompt that differs.
        static func requirePaired(_ first: (path: String, report: Report), _ second: (path: String, report: Report)) throws {
            let (a, b) = (first.report.rows, second.report.rows)
            guard a.count == b.count else {
                throw CLIError("\(first.path) scores \(a.count) prompts and \(second.path) \(b.count): compare reports of the same prompt set")
            }
            for (n, (x, y)) in zip(a, b).enumerated() where x.prompt != y.prompt || x.orientation != y.orientation {
                throw CLIError("prompt \(n + 1) differs: \"\(x.prompt)\" (\(x.orientation)) in \(first.path), \"\(y.prompt)\" (\(y.orientation)) in \(second.path)")
            }
        }

        /// Reads both reports and pairs them, or says what keeps them from pairing.
        static func compare(baseline: String, candidate: String) throws -> Comparison {
            let first = try load(baseline), second = try load(candidate)
            try requirePaired(first, second)
            let (basePath, base) = first, (candidatePath, cand) = second
            func paired(_ orientation: String?) -> PairedComparison? {
                let pairs = zip(base.rows, cand.rows).filter { orientation == nil || $0.0.orientation == orientation }
                return pairs.isEmpty ? nil : PairedComparison(baseline: pairs.map(\.0.score), candidate: pairs.map(\.1.score))
            }
            return Comparison(
                baseline: basePath, candidate: candidatePath, paired: paired(nil)!, landscape: paired("landscape"), portrait: paired("portrait"),
                baselineChance: base.chance, candidateChance: cand.chance, baselineFacts: base.facts, candidateFacts: cand.facts,
                rows: zip(base.rows, cand.rows).map { .init(prompt: $0.prompt, orientation: $0.orientation, baseline: $0.score, candidate: $1.score) })
        }

        /// One row per kind of fact any column counts: each column's share right, "72% (36/50)".
        static func factTable(_ columns: [(name: String, facts: [FactTally])]) -> Table {
            var table = Table(["FACT"] + columns.map(\.name))
            for kind in FactKind.allCases {
                let cells = columns.map { column in column.facts.first { $0.kind == kind } }
                guard cells.contains(where: { $0 != nil }) else { continue }
                table.add([kind.rawValue] + cells.map { tally in
                    tally.map { String(format: "%.0f%% (%d/%d)", $0.rate * 100, $0.satisfied, $0.total) } ?? "-"
                })
            }
            return table
        }

        func run() throws {
            let comparison = try Self.compare(baseline: baseline, candidate: candidate)
            if output.json { return try printJSON(comparison) }

            func percent(_ value: Double) -> String { String(format: "%.0f%%", value * 100) }
            var table = Table(["PROMPT", "ORIENTATION", "BASELINE", "CANDIDATE", "CHANGE"])
            for row in comparison.rows {
                let change = row.candidate - row.baseline
                table.add([row.prompt, row.orientation, percent(row.baseline), percent(row.candidate),
                           abs(change) <= PairedComparison.tolerance ? "" : String(format: "%+.0f", change * 100)])
            }
            print(table.render())
            let all = comparison.paired
            print(String(format: "baseline %.1f%%, candidate %.1f%% over %d prompts", all.baselineMean * 100, all.candidateMean * 100, all.prompts)
                  + (comparison.baselineChance.flatMap { b in comparison.candidateChance.map { String(format: " (against other prompts' captions: %.1f%% and %.1f%%)", b * 100, $0 * 100) } } ?? ""))
            print("paired, candidate − baseline: \(all.summary)")
            for (name, part) in [("landscape", comparison.landscape), ("portrait", comparison.portrait)] {
                if let part, part.prompts < all.prompts {
                    print(String(format: "  %@ (%d): %.1f%% → %.1f%%, ", name, part.prompts, part.baselineMean * 100, part.candidateMean * 100) + part.summary)
                }
            }
            if let a = comparison.baselineFacts, let b = comparison.candidateFacts {
                print(Self.factTable([("BASELINE", a), ("CANDIDATE", b)]).render())
            } else {
                let without = [(comparison.baselineFacts, comparison.baseline), (comparison.candidateFacts, comparison.candidate)].filter { $0.0 == nil }.map(\.1)
                print("facts by kind: not in \(without.joined(separator: " and ")) (written before eval-prompts counted them)")
            }
        }
    }
}
