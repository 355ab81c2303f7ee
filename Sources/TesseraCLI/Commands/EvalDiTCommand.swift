import ArgumentParser
import Foundation
import TesseraMedia
import TesseraModels
import TesseraTensor
import TesseraWorld

extension TrainCommand {
    /// `tessera train eval-dit`: how well the DiT denoises held-out world clips at fixed noise levels, with its
    /// caption and with the empty one. The gap between the two is what the caption teaches the network; a
    /// sampled video can only follow its prompt as far as that gap allows.
    struct EvaluateDiT: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "eval-dit",
            abstract: "The DiT's velocity loss on held-out world clips at fixed noise levels, with and without the caption.",
            discussion: """
                Each held-out clip (the training distribution: 512x288, 288x512 or 288x288; 1 to 33 frames) is encoded by the \
                VAE, noised to each --times level with fixed noise, and the DiT's velocity is compared with ε − x0. \
                --sheet writes, for the first clips, the original middle frame beside the clean estimates x0 = x_t − t·v \
                at each level. It also measures the noise carried into the first clean estimate: at t = 1 the best \
                estimate is the same whatever the noise, so the spread between the estimates from two noise draws, as a \
                share of the clean latent's variance, is noise the network failed to reproduce (0 is ideal). \
                --lies also measures what each kind of word is worth: the loss under a caption that changes one fact of \
                the clip (the first object's colour, shape, size, place or motion, or the background), against the loss \
                under the true caption in the same phrasing. A network that ignores a kind of word loses nothing to the lie. \
                Each lie is also scored on the latent cells the clip's objects touch alone (SceneRenderer.objectCells), \
                where an object word's worth is not diluted by the background around it. \
                It also measures which path carries the caption: the loss with the caption's token embeddings (what \
                cross-attention reads) replaced by the empty caption's, and with its pooled embedding (what adaLN reads) \
                replaced, against the loss with both.
                """)

        @OptionGroup var model: ModelOptions
        @Option(help: "How many held-out clips.")
        var clips = 8
        @Option(parsing: .upToNextOption, help: "Noise levels t in (0, 1].")
        var times: [Float] = [0.2, 0.5, 0.8, 0.95]
        @Option(help: "Comma-separated clip lengths in frames to draw from, each 1 + 4k (1 is a still image).")
        var frames = "1,5,9,17,33"
        @Option(help: "Write a picture of the clean estimates of the first clips (PNG).")
        var sheet: String?
        @Option(help: "Also write the levels as JSON to this file.")
        var report: String?
        @Flag(help: "Also score captions that lie about one kind of fact: what each kind of word is worth.")
        var lies = false
        @OptionGroup var output: OutputOptions

        struct Level: Encodable {
            var time: Float
            var conditional: Double
            var unconditional: Double
        }

        /// The loss under captions that change one fact of `kind`, against the true caption, at each level.
        struct Lie: Encodable {
            var kind: FactKind
            /// Clips whose caption states a fact of this kind.
            var clips: Int
            /// Per level, the mean loss under the true caption and under the lie, over those clips.
            var truth: [Double]
            var lie: [Double]
            /// The same, over the latent cells the clip's objects touch only (every channel of those cells).
            var objectTruth: [Double]
            var objectLie: [Double]
            /// How far the lie's pooled embedding is from the truth's: mean 1 − cosine over the clips.
            var pooledDistance: Double
        }

        /// The kinds a lie can change (framing and events follow from the objects).
        static let liedKinds: [FactKind] = [.present, .shape, .size, .position, .motion, .background]

        /// The loss with one of the caption's two paths given the empty caption's input instead, at each level.
        struct Path: Encodable {
            /// "pooled only" (tokens emptied) or "tokens only" (pooled emptied).
            var name: String
            var both: [Double]
            var one: [Double]
        }

        struct Report: Encodable {
            var levels: [Level]
            var lies: [Lie]?
            /// Mean 1 − cosine between the pooled embeddings of consecutive clips' captions: the scale a lie's is read on.
            var otherCaptionDistance: Double?
            var paths: [Path]?
            /// Half the mean squared difference of the t = 1 clean estimates from two noise draws, over the
            /// clean latent's variance, averaged over the clips.
            var noiseCarried: Double
            /// The share of latent cells the clips' objects touch, averaged over the clips.
            var objectShare: Double
        }

        func run() throws {
            guard clips >= 1 else { throw CLIError("--clips must be at least 1") }
            guard !times.isEmpty, times.allSatisfy({ $0 > 0 && $0 <= 1 }) else { throw CLIError("--times must be levels in (0, 1]") }
            let frameChoices = try WorldLatents.parseFrames(frames)
            let loaded = try model.load()
            var conditional = [Double](repeating: 0, count: times.count), unconditional = conditional
            var cells: [RGBFrame] = [], labels: [String] = []
            var noiseCarried = 0.0
            let zeros = times.map { _ in 0.0 }
            var lieTotals = Self.liedKinds.map { Lie(kind: $0, clips: 0, truth: zeros, lie: zeros, objectTruth: zeros, objectLie: zeros, pooledDistance: 0) }
            var objectShare = 0.0
            var previousPooled: Tensor?, otherDistance = 0.0
            var paths = ["pooled only", "tokens only"].map { Path(name: $0, both: times.map { _ in 0 }, one: times.map { _ in 0 }) }
            let pictured = min(clips, 4)
            for clip in 0..<clips {
                let example = try WorldLatents.example(seed: 7_000_001, step: clip, index: 0, vae: loaded.vae, frameChoices: frameChoices)
                let (raw, caption) = (example.latent, example.caption)
                guard let objects = example.objectCells else { throw CLIError("eval-dit: a world clip without object cells") }
                objectShare += Double(objects.storage.reduce(0, +)) / Double(objects.count) / Double(clips)
                let x0 = Elementwise.map(raw) { $0 / loaded.latentScale }
                // A grounded DiT also takes the clip's objects where they start, as each caption describes them.
                func ground(_ encoded: Caption, _ facts: CaptionFacts? = nil) -> Caption {
                    guard loaded.dit.config.grounding != nil, let scene = example.scene else { return encoded }
                    return encoded.grounded(in: scene, facts: facts)
                }
                let encoded = ground(try loaded.encode(caption))
                if let previousPooled { otherDistance += (1 - cosine(previousPooled, encoded.pooled)) / Double(clips - 1) }
                previousPooled = encoded.pooled
                // The true facts and each lie, written in the clip's own phrasing (the true caption re-written the
                // same way, should the parse not give back the very words).
                var rewritten: Caption?, lieCaptions: [(index: Int, caption: Caption)] = []
                if lies {
                    let truth = CaptionParser.parse(caption).facts
                    let phrasing = Phrasing.allCases.first { Captioner.caption(truth, phrasing: $0) == caption } ?? .prose
                    let written = Captioner.caption(truth, phrasing: phrasing)
                    if written != caption { rewritten = ground(try loaded.encode(written), truth) }
                    for (index, kind) in Self.liedKinds.enumerated() {
                        guard let altered = truth.altered(kind) else { continue }
                        let lie = ground(try loaded.encode(Captioner.caption(altered, phrasing: phrasing)), altered)
                        lieCaptions.append((index, lie))
                        lieTotals[index].clips += 1
                        lieTotals[index].pooledDistance += 1 - cosine((rewritten ?? encoded).pooled, lie.pooled)
                    }
                }
                let noise = NoiseGenerator(seed: 31 &+ UInt64(clip), stream: 5).tensor(shape: x0.shape)
                let other = NoiseGenerator(seed: 31 &+ UInt64(clip), stream: 6).tensor(shape: x0.shape)
                // At t = 1, x_t is the noise and x_t − v the clean estimate.
                let a = try loaded.dit.velocity(noise, time: 1, caption: encoded), b = try loaded.dit.velocity(other, time: 1, caption: encoded)
                var difference = 0.0
                for i in 0..<x0.count {
                    let d = Double((noise.storage[i] - a.storage[i]) - (other.storage[i] - b.storage[i]))
                    difference += d * d
                }
                let mean = x0.storage.reduce(0.0) { $0 + Double($1) } / Double(x0.count)
                let variance = x0.storage.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(x0.count)
                noiseCarried += difference / Double(x0.count) / 2 / max(variance, 1e-12) / Double(clips)
                if clip < pictured {
                    cells.append(try middleFrame(raw, loaded.vae))
                    labels.append("CLIP \(clip) (\(x0.shape[0]) LATENT FRAMES)")
                }
                for (level, t) in times.enumerated() {
                    var xt = x0, target = x0
                    for i in 0..<x0.count {
                        xt.storage[i] = (1 - t) * x0.storage[i] + t * noise.storage[i]
                        target.storage[i] = noise.storage[i] - x0.storage[i]
                    }
                    let v = try loaded.dit.velocity(xt, time: t, caption: encoded)
                    let u = try loaded.dit.velocity(xt, time: t, caption: loaded.emptyCaption)
                    conditional[level] += meanSquare(v, target) / Double(clips)
                    unconditional[level] += meanSquare(u, target) / Double(clips)
                    if lies {
                        let empty = loaded.emptyCaption
                        let halves = [Caption(tokens: empty.tokens, length: empty.length, pooled: encoded.pooled, grounding: encoded.grounding),
                                      Caption(tokens: encoded.tokens, length: encoded.length, pooled: empty.pooled, grounding: encoded.grounding)]
                        for (index, half) in halves.enumerated() {
                            paths[index].both[level] += meanSquare(v, target) / Double(clips)
                            paths[index].one[level] += meanSquare(try loaded.dit.velocity(xt, time: t, caption: half), target) / Double(clips)
                        }
                    }
                    if !lieCaptions.isEmpty {
                        let truthVelocity = try rewritten.map { try loaded.dit.velocity(xt, time: t, caption: $0) } ?? v
                        let truthLoss = meanSquare(truthVelocity, target), truthObjects = Self.meanSquare(truthVelocity, target, cells: objects)
                        for (index, lie) in lieCaptions {
                            let lied = try loaded.dit.velocity(xt, time: t, caption: lie)
                            lieTotals[index].truth[level] += truthLoss
                            lieTotals[index].lie[level] += meanSquare(lied, target)
                            lieTotals[index].objectTruth[level] += truthObjects
                            lieTotals[index].objectLie[level] += Self.meanSquare(lied, target, cells: objects)
                        }
                    }
                    if clip < pictured {
                        var estimate = xt
                        for i in 0..<estimate.count { estimate.storage[i] = (xt.storage[i] - t * v.storage[i]) * loaded.latentScale }
                        cells.append(try middleFrame(estimate, loaded.vae))
                        labels.append(String(format: "X0 AT T=%.2f", t))
                    }
                }
            }
            let levels = times.indices.map { Level(time: times[$0], conditional: conditional[$0], unconditional: unconditional[$0]) }
            if let sheet {
                let picture = try ContactSheet(count: cells.count, columns: times.count + 1, cellWidth: 192,
                                               caption: "DIT CLEAN ESTIMATES ON HELD-OUT CLIPS").render(cells, labels: labels)
                try picture.writePNG(to: URL(fileURLWithPath: sheet))
            }
            let lieMeans = lies ? lieTotals.map { total in
                var mean = total
                mean.truth = total.truth.map { $0 / Double(max(total.clips, 1)) }
                mean.lie = total.lie.map { $0 / Double(max(total.clips, 1)) }
                mean.objectTruth = total.objectTruth.map { $0 / Double(max(total.clips, 1)) }
                mean.objectLie = total.objectLie.map { $0 / Double(max(total.clips, 1)) }
                mean.pooledDistance = total.pooledDistance / Double(max(total.clips, 1))
                return mean
            } : nil
            let result = Report(levels: levels, lies: lieMeans, otherCaptionDistance: lies && clips > 1 ? otherDistance : nil, paths: lies ? paths : nil,
                                noiseCarried: noiseCarried, objectShare: objectShare)
            if let report {
                let json = JSONEncoder()
                json.outputFormatting = [.prettyPrinted, .sortedKeys]
                try json.encode(result).write(to: URL(fileURLWithPath: report))
            }
            if output.json { return try printJSON(result) }
            print("velocity loss on \(clips) held-out clips (mean squared error against ε − x0):")
            print("     t   with caption   empty caption   caption's gain")
            for level in levels {
                print(String(format: "  %.2f   %12.4f   %13.4f   %13.1f%%", level.time, level.conditional, level.unconditional,
                             100 * (1 - level.conditional / max(level.unconditional, 1e-12))))
            }
            print(String(format: "noise carried into the clean estimate at t = 1: %.3f of the clean latent's variance (0 is ideal)", noiseCarried))
            if let lieMeans {
                print("what each kind of word is worth: the loss under a caption that lies about it, over the loss under the truth")
                let header = "  kind         clips" + times.map { String(format: "   t=%.2f", $0) }.joined()
                print(header + "   pooled 1 − cos")
                for lie in lieMeans {
                    print(row(lie, lie.truth, lie.lie) + String(format: "   %.4f", lie.pooledDistance))
                }
                print(String(format: "the same on the latent cells the objects touch (%.1f%% of the cells):", 100 * objectShare))
                print(header)
                for lie in lieMeans { print(row(lie, lie.objectTruth, lie.objectLie)) }
                if let distance = result.otherCaptionDistance {
                    print(String(format: "another clip's caption: pooled 1 − cos %.4f", distance))
                }
                print("which path carries the caption: the loss with only one path given the caption, over the loss with both")
                for path in paths {
                    let cells = zip(path.both, path.one).map { String(format: "  %+6.1f%%", 100 * ($1 / max($0, 1e-12) - 1)) }
                    print(path.name.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: " %5d", clips) + cells.joined())
                }
            }
        }

        /// One kind's line: the lie's loss over the truth's at each level, as a change in percent.
        func row(_ lie: Lie, _ truth: [Double], _ lied: [Double]) -> String {
            let cells = zip(truth, lied).map { truth, lied in
                lie.clips == 0 ? "        -" : String(format: "  %+6.1f%%", 100 * (lied / max(truth, 1e-12) - 1))
            }
            return lie.kind.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: " %5d", lie.clips) + cells.joined()
        }

        func cosine(_ a: Tensor, _ b: Tensor) -> Double {
            var dot = 0.0, aa = 0.0, bb = 0.0
            for i in 0..<a.count { dot += Double(a.storage[i] * b.storage[i]); aa += Double(a.storage[i] * a.storage[i]); bb += Double(b.storage[i] * b.storage[i]) }
            return dot / max((aa * bb).squareRoot(), 1e-12)
        }

        func meanSquare(_ a: Tensor, _ b: Tensor) -> Double {
            var sum = 0.0
            for i in 0..<a.count { let d = Double(a.storage[i] - b.storage[i]); sum += d * d }
            return sum / Double(a.count)
        }

        /// The mean squared difference of latents `[F', H, W, C]` over the cells `[F', H, W]` marked 1 in
        /// `cells` (every channel of each), 0 where none is marked.
        static func meanSquare(_ a: Tensor, _ b: Tensor, cells: Tensor) -> Double {
            precondition(a.count == b.count && a.count % max(cells.count, 1) == 0, "meanSquare: \(cells.shape) cells do not divide \(a.shape)")
            let channels = a.count / cells.count
            var sum = 0.0, marked = 0
            for cell in 0..<cells.count where cells.storage[cell] != 0 {
                marked += 1
                for i in (cell * channels)..<((cell + 1) * channels) { let d = Double(a.storage[i] - b.storage[i]); sum += d * d }
            }
            return marked == 0 ? 0 : sum / Double(marked * channels)
        }

        /// The middle frame of a decoded latent (in the VAE's own scale) as RGB.
        func middleFrame(_ latent: Tensor, _ vae: VAE) throws -> RGBFrame {
            var frames: [Tensor] = []
            try vae.decoder.decode(latent: latent) { frames.append($0) }
            let t = frames[frames.count / 2]
            return try RGBFrame(signed: t)
        }
    }
}

extension RGBFrame {
    /// A frame `[H, W, 3]` in [−1, 1] (what the VAE decodes and the world renders) as 8-bit RGB.
    init(signed t: Tensor) throws {
        try self.init(width: t.shape[1], height: t.shape[0], signed: t.storage[...])
    }

    /// Interleaved RGB values in [−1, 1] (clamped) as an 8-bit frame.
    init(width: Int, height: Int, signed values: ArraySlice<Float>) throws {
        try self.init(width: width, height: height, pixels: values.map { UInt8((min(max($0, -1), 1) + 1) * 127.5 + 0.5) })
    }

    /// The pixels as values in [−1, 1], what the VAE and the evaluator take: the inverse of `init(signed:)`.
    var signedPixels: [Float] { pixels.map { Float($0) / 127.5 - 1 } }
}
