import Foundation
import Testing
import TesseraModels
import TesseraTensor

@testable import TesseraCLI

/// `tessera train eval-dit` and the DiT trainer's choices of clip lengths and starting weights.
@Suite(.serialized) struct DiTDiagnosticsTests {
    @Test func evalDiTReportsTheLossWithAndWithoutTheCaptionAtEachLevel() throws {
        let (_, model) = try VideoRenderTests.model()
        defer { try? FileManager.default.removeItem(at: model) }
        let sheet = model.appendingPathComponent("estimates.png"), report = model.appendingPathComponent("levels.json")
        var command = try TesseraCommand.parseAsRoot([
            "train", "eval-dit", "--dit", model.path, "--vae", model.path, "--text-encoder", VideoRenderTests.textEncoder.path,
            "--clips", "2", "--frames", "1,5", "--times", "0.5", "0.9", "--sheet", sheet.path, "--report", report.path, "--threads", "1", "--lies",
        ])
        try command.run()
        let result = try JSONSerialization.jsonObject(with: Data(contentsOf: report)) as! [String: Any]
        let levels = result["levels"] as? [[String: Any]] ?? []
        let carried = result["noiseCarried"] as? Double ?? -1
        #expect(carried.isFinite && carried > 0, "noise carried at t = 1: \(carried)")
        #expect(levels.compactMap { $0["time"] as? Double }.map { ($0 * 100).rounded() } == [50, 90], "a level per --times value")
        for level in levels {
            let (conditional, unconditional) = (level["conditional"] as? Double ?? -1, level["unconditional"] as? Double ?? -1)
            #expect(conditional.isFinite && conditional > 0 && unconditional.isFinite && unconditional > 0, "finite positive losses: \(level)")
        }
        #expect(FileManager.default.fileExists(atPath: sheet.path))
        // --lies: every clip's caption names an object and a background; a lie changes what the network is given.
        let lies = result["lies"] as? [[String: Any]] ?? []
        #expect(lies.compactMap { $0["kind"] as? String } == ["present", "shape", "size", "position", "motion", "background"], "\(lies)")
        var changed = false
        for lie in lies {
            let clips = lie["clips"] as? Int ?? -1
            let kind = lie["kind"] as? String ?? ""
            #expect(kind == "motion" ? (0...2).contains(clips) : clips == 2, "\(kind): \(clips) clips")
            let truth = lie["truth"] as? [Double] ?? [], lied = lie["lie"] as? [Double] ?? []
            #expect(truth.count == 2 && lied.count == 2, "a value per level: \(lie)")
            let distance = lie["pooledDistance"] as? Double ?? -1
            #expect(clips == 0 ? distance == 0 : distance > 0 && distance < 1, "a lie's caption embeds apart from the truth's: \(lie)")
            guard clips > 0 else { continue }
            #expect(truth.allSatisfy { $0.isFinite && $0 > 0 } && lied.allSatisfy { $0.isFinite && $0 > 0 }, "\(lie)")
            let objectTruth = lie["objectTruth"] as? [Double] ?? [], objectLied = lie["objectLie"] as? [Double] ?? []
            #expect(objectTruth.count == 2 && objectLied.count == 2 && (objectTruth + objectLied).allSatisfy { $0.isFinite && $0 > 0 },
                    "the lie on the objects' cells, a value per level: \(lie)")
            #expect(objectTruth != truth, "the objects' cells are a part of the frame, not all of it: \(lie)")
            changed = changed || zip(truth, lied).contains { $0 != $1 }
        }
        #expect(changed, "a caption that lies gives the network something else to read")
        let share = result["objectShare"] as? Double ?? -1
        #expect(share > 0 && share < 1, "the objects touch some of the latent cells, not all: \(share)")
        let other = result["otherCaptionDistance"] as? Double ?? -1
        #expect(other > 0 && other < 1, "another clip's caption: \(other)")
        let paths = result["paths"] as? [[String: Any]] ?? []
        #expect(paths.compactMap { $0["name"] as? String } == ["pooled only", "tokens only"], "\(paths)")
        for path in paths {
            let both = path["both"] as? [Double] ?? [], one = path["one"] as? [Double] ?? []
            #expect(both.count == 2 && one.count == 2 && zip(both, one).allSatisfy { $0.isFinite && $1.isFinite && $0 > 0 && $1 > 0 }, "\(path)")
            #expect(zip(both, one).contains { $0 != $1 }, "emptying a path changes what the network reads: \(path)")
        }
    }

    /// The loss on the objects' cells: every channel of the marked cells, nothing of the others.
    @Test func meanSquareOverMarkedCells() {
        // Two frames of 1x2 cells, 3 channels; a and b differ by the cell's index + 1 in every channel.
        let a = Tensor(shape: [2, 1, 2, 3], storage: [Float](repeating: 0, count: 12))
        let b = Tensor(shape: [2, 1, 2, 3], storage: (0..<12).map { Float($0 / 3 + 1) })
        let cells = { (marks: [Float]) in Tensor(shape: [2, 1, 2], storage: marks) }
        #expect(TrainCommand.EvaluateDiT.meanSquare(a, b, cells: cells([0, 1, 0, 0])) == 4)
        #expect(TrainCommand.EvaluateDiT.meanSquare(a, b, cells: cells([1, 0, 0, 1])) == 8.5)
        #expect(TrainCommand.EvaluateDiT.meanSquare(a, b, cells: cells([1, 1, 1, 1])) == 7.5, "all cells: the plain mean")
        #expect(TrainCommand.EvaluateDiT.meanSquare(a, b, cells: cells([0, 0, 0, 0])) == 0, "no cell marked")
    }

    @Test func clipLengthsMustBeOnePlusMultiplesOfFour() throws {
        #expect(try WorldLatents.parseFrames("1,1,5, 33") == [1, 1, 5, 33])
        for bad in ["", "2", "1,x", "0", "1,,5"] {
            #expect(throws: CLIError.self, "\"\(bad)\" is refused") { try WorldLatents.parseFrames(bad) }
        }
        do {
            _ = try WorldLatents.parseFrames("1,6")
            Issue.record("6 frames accepted")
        } catch {
            #expect("\(error)".contains("--frames") && "\(error)".contains("1,6"), "the error names the option and the value")
        }
    }

    /// The pooled caption is unit-norm, so its first layer starts at unit scale (fan-in scaling would leave the
    /// caption's share of the conditioning some twenty times below the timestep's); the others keep fan-in scaling.
    @Test func thePooledCaptionsFirstLayerStartsAtUnitScale() throws {
        let config = DiTConfig.world
        let weights = DiTWeights.initial(config, seed: 1)
        func rms(_ name: String) -> Double {
            let t = try! #require(weights[name])
            return (t.storage.reduce(0) { $0 + Double($1) * Double($1) } / Double(t.count)).squareRoot()
        }
        #expect(abs(rms("y_embedder.mlp.0.weight") - 1) < 0.05)
        #expect(abs(rms("context_embedder.weight") - 1 / Double(config.textWidth).squareRoot()) < 0.005)
        #expect(abs(rms("t_embedder.mlp.0.weight") - 1 / Double(config.frequencyEmbedding).squareRoot()) < 0.005)
        #expect(rms("final_layer.linear.weight") == 0, "adaLN-Zero: the final layer starts at zero")
    }

    /// The data-dependent start: over the captions it was fitted to, each unit of the caption's first layer has
    /// mean 0 and spread 1 (alike captions no longer enter the conditioning as one nearly constant vector).
    @Test func theCaptionLayerIsStandardizedOverTheTrainingCaptions() throws {
        var weights = DiTWeights.initial(DiTConfig.world, seed: 1)
        // Alike unit vectors: a shared direction plus a small individual part.
        let common = NoiseGenerator(seed: 5, stream: 1).fill(384)
        let pooled = (0..<32).map { k -> Tensor in
            let own = NoiseGenerator(seed: 6 + UInt64(k), stream: 1).fill(384)
            var v = zip(common, own).map { $0 + 0.2 * $1 }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            v = v.map { $0 / norm }
            return Tensor(shape: [384], storage: v)
        }
        DiTWeights.standardizeCaptionLayer(&weights, pooled: pooled)
        let w = try #require(weights["y_embedder.mlp.0.weight"]), b = try #require(weights["y_embedder.mlp.0.bias"])
        for unit in [0, 17, 255] {
            let values = pooled.map { p in (0..<384).reduce(Double(b.storage[unit])) { $0 + Double(w.storage[unit * 384 + $1]) * Double(p.storage[$1]) } }
            let mean = values.reduce(0, +) / 32, spread = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 32).squareRoot()
            #expect(abs(mean) < 1e-3 && abs(spread - 1) < 1e-3, "unit \(unit): mean \(mean), spread \(spread)")
        }
    }
}
