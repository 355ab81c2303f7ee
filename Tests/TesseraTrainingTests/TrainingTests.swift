import Foundation
import Testing
import TesseraModels
import TesseraSampling
import TesseraTensor

@testable import TesseraTraining

@Suite struct AdamWTests {
    @Test func scheduleWarmsUpThenDecays() {
        var settings = AdamW.Settings()
        settings.learningRate = 1e-3
        settings.minimumLearningRate = 1e-4
        settings.warmupSteps = 10
        settings.totalSteps = 110
        let adam = AdamW(settings: settings, parameters: [:])
        #expect(abs(adam.learningRate(at: 0) - 1e-4) < 1e-9)
        #expect(abs(adam.learningRate(at: 9) - 1e-3) < 1e-9)
        #expect(abs(adam.learningRate(at: 60) - 5.5e-4) < 1e-6, "half way down the cosine")
        #expect(abs(adam.learningRate(at: 110) - 1e-4) < 1e-9)
        #expect(abs(adam.learningRate(at: 500) - 1e-4) < 1e-9)
    }

    @Test func fitsALinearRegressionAndClipsLargeGradients() {
        // y = x·wᵀ with a known w; AdamW on the tape's gradients finds it.
        let x = NoiseGenerator(seed: 1, stream: 0).tensor(shape: [64, 8])
        let truth = NoiseGenerator(seed: 2, stream: 0).tensor(shape: [3, 8])
        let y = Linear.forward(x, weight: truth, bias: nil)
        var settings = AdamW.Settings()
        settings.learningRate = 0.05
        settings.minimumLearningRate = 0.005
        settings.warmupSteps = 5
        settings.totalSteps = 400
        settings.weightDecay = 0
        settings.emaDecay = 0.95
        var parameters = ["w": Tensor(zeros: [3, 8])]
        var adam = AdamW(settings: settings, parameters: parameters)
        var first: Float = 0, last: Float = 0
        for step in 0..<400 {
            let tape = Tape()
            let w = tape.parameter(parameters["w"]!)
            let loss = tape.meanSquaredError(tape.linear(tape.constant(x), weight: w), tape.constant(y))
            tape.backward(from: loss)
            let norm = adam.update(&parameters, gradients: ["w": tape.gradient(w)!])
            if step == 0 {
                first = tape.value(loss).storage[0]
                #expect(norm > settings.clipNorm, "the first gradient is large and gets clipped")
            }
            last = tape.value(loss).storage[0]
        }
        #expect(last < first * 1e-3, "loss \(first) → \(last)")
        #expect(zip(parameters["w"]!.storage, truth.storage).allSatisfy { abs($0 - $1) < 0.02 })
        // The EMA trails the weights but has converged too.
        #expect(zip(adam.average["w"]!.storage, truth.storage).allSatisfy { abs($0 - $1) < 0.2 })
    }
}

@Suite struct FlowMatchingTests {
    static func tinyTrainer(seed: UInt64 = 7) throws -> (FlowMatchingTrainer, FlowSample) {
        let config = DiTConfig.tiny
        var weights: [String: Tensor] = [:]
        var offset = 0
        for (name, shape) in config.expectedWeights.sorted(by: { $0.key < $1.key }) {
            let count = shape.reduce(1, *)
            let scale: Float = name.hasSuffix("norm.weight") || name.hasSuffix("norm2.weight") ? 0 : 1 / Float(shape.last!).squareRoot()
            weights[name] = Tensor(shape: shape, storage: NoiseGenerator(seed: 11, stream: 5).fill(count, startingAt: offset).map { name.hasSuffix("norm.weight") || name.hasSuffix("norm2.weight") ? 1 : $0 * scale })
            offset += count
        }
        let caption = Caption(tokens: NoiseGenerator(seed: 3, stream: 1).tensor(shape: [4, config.textWidth]), length: 4,
                              pooled: NoiseGenerator(seed: 4, stream: 1).tensor(shape: [config.textWidth]))
        let empty = Caption(tokens: Tensor(zeros: [1, config.textWidth]), length: 1, pooled: Tensor(zeros: [config.textWidth]))
        var settings = AdamW.Settings()
        settings.learningRate = 3e-3
        settings.minimumLearningRate = 3e-4
        settings.warmupSteps = 10
        settings.totalSteps = 150
        let trainer = FlowMatchingTrainer(config: config, parameters: weights, settings: settings, emptyCaption: empty, seed: seed)
        // One clean latent: a smooth pattern the tiny model can learn to denoise.
        var latent = Tensor(zeros: [2, 4, 4, config.latentChannels])
        for i in 0..<latent.count { latent.storage[i] = sin(Float(i) * 0.37) }
        return (trainer, FlowSample(latent: latent, caption: caption))
    }

    /// The whole machinery (graph, gradients, AdamW) learns: on one example the flow-matching loss, which
    /// starts near 2 (|ε − x0|² for unit noise and an O(1) latent), falls by more than half.
    @Test func theTinyDiTOverfitsOneExample() throws {
        var (trainer, sample) = try Self.tinyTrainer()
        var losses: [Float] = []
        for _ in 0..<150 { losses.append(try trainer.step([sample]).loss) }
        let early = losses.prefix(20).reduce(0, +) / 20, late = losses.suffix(20).reduce(0, +) / 20
        #expect(late < 0.5 * early, "mean loss of the first 20 steps \(early), of the last 20 \(late)")
    }

    /// `factorizedShare` trains that share of the multi-frame samples with factorized attention (what long and
    /// full-resolution renders use); a single latent frame has one layout only.
    @Test func factorizedShareChoosesTheLayoutOfMultiFrameSamples() throws {
        let (base, sample) = try Self.tinyTrainer()
        func firstLoss(share: Float, _ sample: FlowSample) throws -> Float {
            var trainer = base
            trainer.factorizedShare = share
            return try trainer.step([sample]).loss
        }
        #expect(try firstLoss(share: 0, sample) != firstLoss(share: 1, sample), "two latent frames: the layout changes the loss")
        var image = sample
        image.latent = Tensor(shape: [1] + Array(sample.latent.shape.dropFirst()), storage: Array(sample.latent.storage.prefix(sample.latent.count / 2)))
        #expect(try firstLoss(share: 0, image) == firstLoss(share: 1, image), "one latent frame: the same attention either way")
        var half = base
        half.factorizedShare = 0.5
        let chosen = (0..<400).filter { half.draws(step: $0, sample: 0, shape: sample.latent.shape).factorized }.count
        #expect((150...250).contains(chosen), "about half of 400 draws factorized: \(chosen)")
    }

    /// `shiftTimes` moves each t toward noise by the sampler's shift for the sample's token count: a grid of the
    /// reference size keeps its t, a larger one gets `s·u / (1 + (s − 1)·u)`.
    @Test func shiftTimesFollowsTheSamplersShift() throws {
        var (trainer, _) = try Self.tinyTrainer()
        let small = [1, 24, 24, DiTConfig.tiny.latentChannels], large = [4, 48, 48, DiTConfig.tiny.latentChannels]
        let tokens = { (shape: [Int]) in shape[0] / DiTConfig.tiny.patch[0] * (shape[1] / DiTConfig.tiny.patch[1]) * (shape[2] / DiTConfig.tiny.patch[2]) }
        #expect(tokens(small) == 144, "the reference grid")
        let s = Float(Schedule.shift(tokens: tokens(large), shiftBase: 1, shiftReferenceTokens: 144))
        #expect(s > 2)
        let plain = (0..<50).map { trainer.draws(step: $0, sample: 0, shape: large).time }
        let plainSmall = (0..<50).map { trainer.draws(step: $0, sample: 0, shape: small).time }
        trainer.shiftTimes = true
        let shifted = (0..<50).map { trainer.draws(step: $0, sample: 0, shape: large).time }
        #expect((0..<50).map { trainer.draws(step: $0, sample: 0, shape: small).time } == plainSmall, "144 tokens: shift 1")
        for (u, t) in zip(plain, shifted) { #expect(abs(t - s * u / (1 + (s - 1) * u)) < 1e-6) }
        #expect(shifted.reduce(0, +) > plain.reduce(0, +) + 5, "the large grid trains nearer noise")
    }

    /// `highNoiseShare` draws that share of the times uniformly from [0.85, 1] — where logit-normal times
    /// almost never go and every render starts — and leaves the other draws as they were.
    @Test func highNoiseShareCoversTheStartOfEveryRender() throws {
        var (trainer, sample) = try Self.tinyTrainer()
        let shape = sample.latent.shape
        let plain = (0..<1000).map { trainer.draws(step: $0, sample: 0, shape: shape).time }
        #expect(plain.filter { $0 > 0.95 }.count < 10, "logit-normal: \(plain.filter { $0 > 0.95 }.count) of 1000 above 0.95")
        trainer.highNoiseShare = 0.3
        let mixed = (0..<1000).map { trainer.draws(step: $0, sample: 0, shape: shape).time }
        let changed = zip(plain, mixed).filter { $0 != $1 }.map(\.1)
        #expect((240...360).contains(changed.count), "about 300 of 1000 redrawn: \(changed.count)")
        #expect(changed.allSatisfy { $0 >= 0.85 && $0 <= 1 })
        #expect(changed.filter { $0 > 0.95 }.count > 60, "a third of the redrawn above 0.95")
        #expect((0..<1000).map { trainer.draws(step: $0, sample: 0, shape: shape).time } == mixed, "deterministic")
    }

    /// `maskShare` hides `maskRatio` of a sample's tokens in that share of the samples: a hidden token's input
    /// is zero and its target `−x0`; every other element, and every other draw, is as it was.
    @Test func maskedSamplesHideTokensAndTargetTheirCleanLatent() throws {
        var (trainer, sample) = try Self.tinyTrainer()
        let x0 = sample.latent, shape = x0.shape, p = trainer.config.patch
        let (rows, columns) = (shape[1] / p[1], shape[2] / p[2]), tokens = shape[0] / p[0] * rows * columns
        let plainDraws = (0..<20).map { trainer.draws(step: $0, sample: 1, shape: shape) }
        #expect(trainer.hiddenTokens(step: 0, sample: 0, shape: shape) == nil, "maskShare 0: nothing hidden")
        trainer.maskShare = 1
        trainer.maskRatio = 0.3
        let hidden = try #require(trainer.hiddenTokens(step: 0, sample: 0, shape: shape))
        #expect(hidden.count == tokens && hidden.filter { $0 }.count == Int((0.3 * Float(tokens)).rounded()))
        #expect(Set((0..<10).compactMap { trainer.hiddenTokens(step: $0, sample: 0, shape: shape) }).count > 3, "each step hides other tokens")
        let (noise, time, _, _) = trainer.draws(step: 0, sample: 0, shape: shape)
        let plain = trainer.inputAndTarget(x0, noise: noise, time: time, hidden: nil)
        let masked = trainer.inputAndTarget(x0, noise: noise, time: time, hidden: hidden)
        var seenHidden = 0
        for f in 0..<shape[0] {
            for y in 0..<shape[1] {
                for x in 0..<shape[2] {
                    let token = (f / p[0] * rows + y / p[1]) * columns + x / p[2]
                    for c in 0..<shape[3] {
                        let i = ((f * shape[1] + y) * shape[2] + x) * shape[3] + c
                        #expect(plain.input.storage[i] == (1 - time) * x0.storage[i] + time * noise.storage[i])
                        #expect(plain.target.storage[i] == noise.storage[i] - x0.storage[i])
                        if hidden[token] {
                            seenHidden += 1
                            #expect(masked.input.storage[i] == 0 && masked.target.storage[i] == -x0.storage[i])
                        } else {
                            #expect(masked.input.storage[i] == plain.input.storage[i] && masked.target.storage[i] == plain.target.storage[i])
                        }
                    }
                }
            }
        }
        #expect(seenHidden == hidden.filter { $0 }.count * p[0] * p[1] * p[2] * shape[3])
        // The mask's draws are its own: noise, time, caption and layout draws are unchanged.
        let maskedDraws = (0..<20).map { trainer.draws(step: $0, sample: 1, shape: shape) }
        #expect(zip(plainDraws, maskedDraws).allSatisfy { $0.noise == $1.noise && $0.time == $1.time && $0.drop == $1.drop && $0.factorized == $1.factorized })
        // A share of one half masks about half the samples, and the loss of a masked step differs.
        trainer.maskShare = 0.5
        let masks = (0..<400).filter { trainer.hiddenTokens(step: $0, sample: 0, shape: shape) != nil }.count
        #expect((150...250).contains(masks), "about half of 400 samples masked: \(masks)")
        var (whole, _) = try Self.tinyTrainer()
        var hiding = whole
        hiding.maskShare = 1
        #expect(try whole.step([sample]).loss != hiding.step([sample]).loss)
        // A latent of one token has nothing to fill it from.
        #expect(trainer.hiddenTokens(step: 0, sample: 0, shape: [1, p[1], p[2], shape[3]]) == nil)
    }

    /// Stopping, saving, loading and going on gives bit-identical weights to never stopping.
    @Test func resumeFromACheckpointIsBitIdentical() throws {
        var (straight, sample) = try Self.tinyTrainer()
        for _ in 0..<6 { try straight.step([sample]) }

        var (first, _) = try Self.tinyTrainer()
        for _ in 0..<3 { try first.step([sample]) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-checkpoint-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Checkpoint.save(parameters: first.parameters, optimizer: first.optimizer, to: path)

        var (resumed, _) = try Self.tinyTrainer()
        let loaded = try Checkpoint.load(from: path, expected: DiTConfig.tiny.expectedWeights, optimizer: &resumed.optimizer)
        resumed.parameters = loaded.parameters
        #expect(resumed.optimizer.step == 3)
        for _ in 0..<3 { try resumed.step([sample]) }
        #expect(resumed.parameters == straight.parameters)
        #expect(resumed.optimizer.average == straight.optimizer.average)
    }

    /// A batch of samples of different lengths runs longest first, but its gradients are summed in batch
    /// order: the step is bit-identical at one thread and at three, and changes when the batch is reordered.
    @Test func aMixedBatchStepsTheSameAtAnyThreadCount() throws {
        let (_, sample) = try Self.tinyTrainer()
        func clip(frames: Int, phase: Float) -> FlowSample {
            var latent = Tensor(zeros: [frames, 4, 4, DiTConfig.tiny.latentChannels])
            for i in 0..<latent.count { latent.storage[i] = sin(Float(i) * 0.37 + phase) }
            return FlowSample(latent: latent, caption: sample.caption)
        }
        let batch = [clip(frames: 1, phase: 0), clip(frames: 4, phase: 1), clip(frames: 2, phase: 2), clip(frames: 1, phase: 3)]
        #expect(longestFirst(batch.count, cost: { batch[$0].latent.count }) == [1, 2, 0, 3])
        let before = Compute.threads
        defer { Compute.setThreads(before) }
        func weights(threads: Int, order: [Int]) throws -> [String: Tensor] {
            Compute.setThreads(threads)
            var (trainer, _) = try Self.tinyTrainer()
            for _ in 0..<2 { try trainer.step(order.map { batch[$0] }) }
            return trainer.parameters
        }
        let serial = try weights(threads: 1, order: [0, 1, 2, 3])
        #expect(try weights(threads: 3, order: [0, 1, 2, 3]) == serial)
        #expect(try weights(threads: 2, order: [0, 1, 2, 3]) == serial)
        #expect(try weights(threads: 1, order: [3, 2, 1, 0]) != serial, "each sample draws its noise by batch position")
    }

    /// Side jobs (the next step's clips) run in the pool of a step's samples and come back in their order;
    /// the step's weights are the same bits as without them, at one thread and at two.
    @Test func sideJobsLeaveTheStepUnchanged() throws {
        let (_, sample) = try Self.tinyTrainer()
        let before = Compute.threads
        defer { Compute.setThreads(before) }
        Compute.setThreads(1)
        var (plain, _) = try Self.tinyTrainer()
        for _ in 0..<2 { try plain.step([sample, sample]) }
        for threads in [1, 2] {
            Compute.setThreads(threads)
            var (trainer, _) = try Self.tinyTrainer()
            var results: [[Int]] = []
            for step in 0..<2 {
                // A large cost runs the job first, a small one after the samples.
                let side = [SideJob(cost: 1_000_000) { [step, 0] }, SideJob(cost: 0) { [step, 1] }]
                results += try trainer.step([sample, sample], alongside: side).side
            }
            #expect(results == [[0, 0], [0, 1], [1, 0], [1, 1]])
            #expect(trainer.parameters == plain.parameters, "\(threads) thread(s)")
        }
        let failing = [SideJob<Int>(cost: 1) { throw TrainingError.badData("a side job failed") }]
        var (trainer, _) = try Self.tinyTrainer()
        #expect(throws: TrainingError.self) { try trainer.step([sample], alongside: failing) }
        #expect(trainer.optimizer.step == 0, "a failed side job fails the step before the update")
    }
}

@Suite struct TrainingLogTests {
    @Test func appendsFlushesAndDropsStepsAfterTheCheckpointOnResume() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-log-\(UUID().uuidString).csv").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let log = try TrainingLog(path: path)
            for step in 0..<10 { try log.append(.init(step: step, loss: Float(10 - step), learningRate: 1e-3, gradientNorm: 0.5, seconds: 0.1)) }
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 11 && lines[0] == "step,loss,learning_rate,gradient_norm,seconds" && lines[10].hasPrefix("9,1,"))
        // A checkpoint at step 6 holds steps 0..<6: resuming drops 6...9 and appends after 5.
        let resumed = try TrainingLog(path: path, keepBefore: 6)
        #expect(resumed.entries.map(\.step) == Array(0..<6))
        try resumed.append(.init(step: 6, loss: 3.5, learningRate: 1e-3, gradientNorm: 0.4, seconds: 0.1))
        let after = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(after.count == 8 && after[7].hasPrefix("6,3.5,"))
        #expect(resumed.smoothedLoss(factor: 0).map(\.loss) == [10, 9, 8, 7, 6, 5, 3.5])
    }
}

@Suite struct ReuseWindowTests {
    /// Every clip serves `reuse` consecutive steps, each step encodes only `batch / reuse` new ones, and a window
    /// started at a later step (a resumed run) gives the batches an uninterrupted one does.
    @Test func eachClipServesReuseStepsAndResumingGivesTheSameBatches() {
        var window = ReuseWindow<DataClip>(batch: 6, reuse: 3)
        var made: [DataClip] = [], uses: [DataClip: [Int]] = [:], batches: [[DataClip]] = []
        for step in 0..<10 {
            let batch = window.batch(at: step) { clips in
                made += clips
                return clips
            }
            #expect(batch.count == 6)
            #expect(Set(batch).count == 6)
            for clip in batch { uses[clip, default: []].append(step) }
            #expect(window.keptCount <= 4)
            batches.append(batch)
        }
        #expect(made.count == 6 + 9 * 2, "the first step encodes the whole window, later ones two clips each")
        #expect(Set(made).count == made.count, "no clip is encoded twice")
        for (clip, steps) in uses where clip.step >= 2 && clip.step <= 9 {
            #expect(steps == Array((clip.step - 2)...clip.step), "clip \(clip) serves three consecutive steps")
        }
        var resumed = ReuseWindow<DataClip>(batch: 6, reuse: 3)
        for step in 4..<10 { #expect(resumed.batch(at: step) { $0 } == batches[step]) }
        // Encoding ahead: after step s, `missing(at: s + 1)` names the clips step s + 1 would encode; kept
        // ahead of it, step s + 1 encodes nothing and its batch is the same.
        var ahead = ReuseWindow<DataClip>(batch: 6, reuse: 3)
        var aheadMade: [DataClip] = []
        for step in 0..<10 {
            let batch = ahead.batch(at: step) { clips in
                aheadMade += clips
                return clips
            }
            #expect(batch == batches[step])
            let next = ahead.missing(at: step + 1)
            #expect(next == (0..<2).map { DataClip(step: step + 3, index: $0) })
            for clip in next { ahead.keep(clip, clip) }
            #expect(ahead.missing(at: step + 1).isEmpty)
        }
        #expect(aheadMade.count == 6, "only the first step encodes in the batch")
        var once = ReuseWindow<DataClip>(batch: 4, reuse: 1)
        #expect(once.batch(at: 7) { $0 } == (0..<4).map { .init(step: 7, index: $0) }, "reuse 1 is the plain one-use batch")
    }
}
