import ArgumentParser
import Foundation
import TesseraWorld

extension TrainCommand {
    /// `tessera train recipe-prompts`: several trainings of one recipe, seeds apart, read as one recipe.
    struct RecipePrompts: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "recipe-prompts",
            abstract: "Read several trainings of one recipe (seeds apart) as one: the recipe's mean prompt score, the seed-to-seed spread, and the difference from another recipe.",
            discussion: """
                Each REPORT is an eval-prompts report.json (or its folder) of one training; all must score the same \
                prompts in the same order. Prints each training's score, the recipe's mean with the trainings' \
                standard deviation and the mean's standard error, every prompt's scores, and the facts by kind summed \
                over the trainings. With --against, another recipe's reports: the difference of the two means with \
                its standard error from the seed-to-seed variance pooled over both recipes (three trainings at least \
                in all). compare-prompts pairs two single trainings and counts the prompts' noise only; this counts \
                the trainings' noise.
                """)

        @Argument(help: "The recipe's eval-prompts reports (report.json or folder), one per training.")
        var reports: [String]
        @Option(parsing: .upToNextOption, help: "Another recipe's reports, the baseline for the difference.")
        var against: [String] = []
        @OptionGroup var output: OutputOptions

        /// One recipe's trainings, read.
        struct Recipe: Encodable {
            struct Training: Encodable {
                var report: String
                var score: Double
                var landscape: Double?
                var portrait: Double?
            }
            var trainings: [Training]
            var spread: RecipeSpread
            var landscape: RecipeSpread?
            var portrait: RecipeSpread?
            /// Tallies summed over the trainings whose reports count facts (nil when none does).
            var facts: [FactTally]?
            /// Per prompt, the mean over the trainings.
            var promptMeans: [Double]

            init(_ loaded: [(path: String, report: ComparePrompts.Report)]) {
                func scores(_ orientation: String?) -> [[Double]] {
                    loaded.map { $0.report.rows.filter { orientation == nil || $0.orientation == orientation }.map(\.score) }
                }
                spread = RecipeSpread(scores: scores(nil))
                let (wide, tall) = (scores("landscape"), scores("portrait"))
                landscape = wide[0].isEmpty ? nil : RecipeSpread(scores: wide)
                portrait = tall[0].isEmpty ? nil : RecipeSpread(scores: tall)
                trainings = loaded.indices.map { [spread, landscape, portrait] n in
                    Training(report: loaded[n].path, score: spread.means[n], landscape: landscape?.means[n], portrait: portrait?.means[n])
                }
                let counted = loaded.compactMap(\.report.facts)
                facts = counted.isEmpty ? nil : FactKind.allCases.compactMap { kind in
                    let tallies = counted.compactMap { facts in facts.first { $0.kind == kind } }
                    return tallies.isEmpty ? nil
                        : FactTally(kind: kind, satisfied: tallies.map(\.satisfied).reduce(0, +), total: tallies.map(\.total).reduce(0, +))
                }
                promptMeans = loaded[0].report.rows.indices.map { row in loaded.map { $0.report.rows[row].score }.reduce(0, +) / Double(loaded.count) }
            }
        }

        struct Result: Encodable {
            struct Prompt: Encodable {
                var prompt: String
                var orientation: String
                var scores: [Double]
                var mean: Double
                var against: Double?
            }
            var recipe: Recipe
            var against: Recipe?
            /// Recipe mean − against mean, seed-to-seed variance pooled (nil without --against or with two trainings in all).
            var difference: RecipeDifference?
            var prompts: [Prompt]
        }

        /// Reads every report, checks they all score the same prompts, and reads them as one or two recipes.
        static func read(reports: [String], against: [String]) throws -> Result {
            guard !reports.isEmpty else { throw CLIError("name at least one eval-prompts report of the recipe") }
            let recipe = try reports.map(ComparePrompts.load), baseline = try against.map(ComparePrompts.load)
            for other in recipe.dropFirst() + baseline { try ComparePrompts.requirePaired(recipe[0], other) }
            let read = Recipe(recipe), readAgainst = baseline.isEmpty ? nil : Recipe(baseline)
            return Result(
                recipe: read, against: readAgainst,
                difference: readAgainst.flatMap { RecipeDifference(baseline: $0.spread, candidate: read.spread) },
                prompts: recipe[0].report.rows.indices.map { n in
                    let row = recipe[0].report.rows[n]
                    return .init(prompt: row.prompt, orientation: row.orientation, scores: recipe.map { $0.report.rows[n].score },
                                 mean: read.promptMeans[n], against: readAgainst?.promptMeans[n])
                })
        }

        func run() throws {
            let result = try Self.read(reports: reports, against: against)
            if output.json { return try printJSON(result) }

            func percent(_ value: Double?) -> String { value.map { String(format: "%.0f%%", $0 * 100) } ?? "-" }
            let names = result.recipe.trainings.indices.map { "T\($0 + 1)" }
            var table = Table(["PROMPT", "ORIENTATION"] + names + ["MEAN"] + (result.against == nil ? [] : ["AGAINST"]))
            for prompt in result.prompts {
                table.add([prompt.prompt, prompt.orientation] + prompt.scores.map { percent($0) } + [percent(prompt.mean)]
                          + (result.against == nil ? [] : [percent(prompt.against)]))
            }
            print(table.render())

            func describe(_ title: String, _ recipe: Recipe, names: [String]) {
                var trainings = Table(["", "REPORT", "SCORE", "LANDSCAPE", "PORTRAIT"])
                for (name, training) in zip(names, recipe.trainings) {
                    trainings.add([name, training.report, String(format: "%.1f%%", training.score * 100),
                                   percent(training.landscape), percent(training.portrait)])
                }
                print("\(title):\n" + trainings.render())
                print("  mean \(recipe.spread.summary)")
                for (name, part) in [("landscape", recipe.landscape), ("portrait", recipe.portrait)] {
                    if let part { print("  \(name) \(part.summary)") }
                }
            }
            describe("recipe", result.recipe, names: names)
            if let against = result.against {
                describe("against", against, names: against.trainings.indices.map { "A\($0 + 1)" })
                if let difference = result.difference {
                    print("recipe − against: \(difference.summary)")
                } else {
                    print("recipe − against: \(String(format: "%+.1f", (result.recipe.spread.mean - against.spread.mean) * 100)) points; "
                          + "no standard error: two trainings in all show no seed-to-seed spread (pair them with compare-prompts)")
                }
            }
            let columns = [("RECIPE", result.recipe.facts), ("AGAINST", result.against?.facts)].compactMap { name, facts in facts.map { (name, $0) } }
            if !columns.isEmpty { print("facts by kind, summed over the trainings:\n" + ComparePrompts.factTable(columns).render()) }
        }
    }
}
