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

        /// Reads both reports and pairs them, or says what keeps them from pairing.
        static func compare(baseline: String, candidate: String) throws -> Comparison {
            let (basePath, base) = try load(baseline), (candidatePath, cand) = try load(candidate)
            guard base.rows.count == cand.rows.count else {
                throw CLIError("\(basePath) scores \(base.rows.count) prompts and \(candidatePath) \(cand.rows.count): compare reports of the same prompt set")
            }
            for (n, (a, b)) in zip(base.rows, cand.rows).enumerated() where a.prompt != b.prompt || a.orientation != b.orientation {
                throw CLIError("prompt \(n + 1) differs: \"\(a.prompt)\" (\(a.orientation)) in \(basePath), \"\(b.prompt)\" (\(b.orientation)) in \(candidatePath)")
            }
            func paired(_ orientation: String?) -> PairedComparison? {
                let pairs = zip(base.rows, cand.rows).filter { orientation == nil || $0.0.orientation == orientation }
                return pairs.isEmpty ? nil : PairedComparison(baseline: pairs.map(\.0.score), candidate: pairs.map(\.1.score))
            }
            return Comparison(
                baseline: basePath, candidate: candidatePath, paired: paired(nil)!, landscape: paired("landscape"), portrait: paired("portrait"),
                baselineChance: base.chance, candidateChance: cand.chance, baselineFacts: base.facts, candidateFacts: cand.facts,
                rows: zip(base.rows, cand.rows).map { .init(prompt: $0.prompt, orientation: $0.orientation, baseline: $0.score, candidate: $1.score) })
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
                var kinds = Table(["FACT", "BASELINE", "CANDIDATE"])
                for kind in FactKind.allCases {
                    let x = a.first { $0.kind == kind }, y = b.first { $0.kind == kind }
                    guard x != nil || y != nil else { continue }
                    func cell(_ t: FactTally?) -> String { t.map { "\(percent($0.rate)) (\($0.satisfied)/\($0.total))" } ?? "-" }
                    kinds.add([kind.rawValue, cell(x), cell(y)])
                }
                print(kinds.render())
            } else {
                let without = [(comparison.baselineFacts, comparison.baseline), (comparison.candidateFacts, comparison.candidate)].filter { $0.0 == nil }.map(\.1)
                print("facts by kind: not in \(without.joined(separator: " and ")) (written before eval-prompts counted them)")
            }
        }
    }
}
