import Foundation
import TesseraTensor

// The VAE as a list of streaming steps. Every step is causal in time and keeps the little state it needs to
// continue a video where the last chunk stopped (a temporal convolution's last kt − 1 input frames, a frame
// count), so a video pushed one frame at a time gives the same result as the whole video at once.
// Letters: F frames, H, W height and width at the step's level, C channels.

/// One causal convolution (docs/ENGINE.md `conv3d`) that can be fed a video in pieces.
struct VAEConv: Sendable {
    let weight: Tensor  // [Co, Ci, kt, 3, 3]
    let bias: Tensor  // [Co]
    /// Strides in (frames, rows, columns).
    let stride: (Int, Int, Int)

    var kt: Int { weight.shape[2] }

    /// Where a stream stands: the last `kt − 1` input frames and how many frames came in so far.
    struct State: Sendable {
        var history: Tensor?
        var seen = 0
        var floatCount: Int { history?.count ?? 0 }
    }

    /// The output frames that the chunk `x [F, H, W, Ci]` completes, given what came before (`state`).
    /// Output frame `j` is made when input frame `j·st` arrives; nil when this chunk completes none.
    func callAsFunction(_ x: Tensor, _ state: inout State) -> Tensor? {
        let (kt, st, count) = (self.kt, stride.0, x.shape[0])
        defer { state.seen += count }
        if kt == 1 && st == 1 { return Conv3D.forward(x, weight: weight, bias: bias, stride: stride) }
        let frame = x.count / count
        if st == 1 {
            // Every input frame makes an output frame: the stream's history goes straight to the kernel, and the
            // new history is the last kt − 1 frames of history + chunk.
            let out = Conv3D.forward(x, weight: weight, bias: bias, stride: stride, history: state.history)
            let kept: [Float]
            if count >= kt - 1 {
                kept = Array(x.storage.suffix((kt - 1) * frame))
            } else {
                let previous = state.history?.storage ?? (0..<(kt - 1)).flatMap { _ in x.storage[0..<frame] }
                kept = Array(previous.suffix((kt - 1 - count) * frame)) + x.storage
            }
            state.history = Tensor(shape: [kt - 1] + Array(x.shape.dropFirst()), storage: kept)
            return out
        }
        // The chunk with its causal history in front: the stream's last kt − 1 frames, or copies of the first
        // frame at the start of the video.  [kt − 1 + F, H, W, Ci]
        var storage: [Float] = []
        storage.reserveCapacity((kt - 1 + count) * frame)
        if let history = state.history {
            storage += history.storage
        } else {
            for _ in 0..<(kt - 1) { storage += x.storage[0..<frame] }
        }
        storage += x.storage
        let tail = Array(x.shape.dropFirst())
        func frames(_ range: Range<Int>) -> Tensor {
            Tensor(shape: [range.count] + tail, storage: Array(storage[(range.lowerBound * frame)..<(range.upperBound * frame)]))
        }
        if kt > 1 { state.history = frames(count..<(count + kt - 1)) }
        let first = (state.seen + st - 1) / st  // the first output this chunk completes
        let offset = first * st - state.seen  // its newest input frame, as an index into x
        guard offset < count else { return nil }
        return Conv3D.forward(
            frames((offset + kt - 1)..<(kt - 1 + count)), weight: weight, bias: bias, stride: stride,
            history: kt > 1 ? frames(offset..<(offset + kt - 1)) : nil)
    }
}

/// `x + conv2(silu(norm2(conv1(silu(norm1(x))))))`, both convolutions of stride 1.
struct VAEResBlock: Sendable {
    let norm1: Tensor, conv1: VAEConv, norm2: Tensor, conv2: VAEConv
    let eps: Float

    func callAsFunction(_ x: Tensor, _ first: inout VAEConv.State, _ second: inout VAEConv.State) -> Tensor {
        let a = ChannelNorm.rmsNormSiLU(x, weight: norm1, eps: eps)  // [F, H, W, C]
        let b = ChannelNorm.rmsNormSiLU(conv1(a, &first)!, weight: norm2, eps: eps)  // [F, H, W, C]
        var out = conv2(b, &second)!  // [F, H, W, C]
        out.storage.withUnsafeMutableBufferPointer { o in
            x.storage.withUnsafeBufferPointer { xs in
                let op = o.baseAddress!, xp = xs.baseAddress!
                let chunk = 65_536
                Compute.parallel((o.count + chunk - 1) / chunk) { part in
                    for i in (part * chunk)..<min(o.count, (part + 1) * chunk) { op[i] += xp[i] }
                }
            }
        }
        return out
    }
}

/// One step of the pipeline.
enum VAEStep: Sendable {
    case spaceToDepth(Int)
    case depthToSpace(Int)
    case conv(VAEConv)
    case resBlock(VAEResBlock)
    case normSiLU(Tensor, eps: Float)
    /// Causal temporal upsampling: the video's first frame once, every other frame twice.
    case repeatFrames
    /// Causal temporal upsampling from channel halves: the video's first frame gives its first half, every
    /// other frame two frames.
    case splitFrames
}

/// A stage is what the golden files record one output of: a named run of steps (a residual block, a
/// downsampling convolution, an upsampling convolution with its depth-to-space and frame repetition, …).
struct VAEStage: Sendable {
    let name: String
    let steps: [VAEStep]
}

/// The state of one stream through a pipeline: one entry per step.
struct VAEStepState: Sendable {
    var first = VAEConv.State()
    var second = VAEConv.State()
    var seen = 0
    var floatCount: Int { first.floatCount + second.floatCount }
}

/// The steps of the encoder or the decoder, in order, with the stream state that runs them.
struct VAEPipeline: Sendable {
    let stages: [VAEStage]
    let steps: [VAEStep]
    /// For each step, the stage it ends (when it is that stage's last step).
    let stageEnds: [String?]

    init(stages: [VAEStage]) {
        self.stages = stages
        steps = stages.flatMap(\.steps)
        stageEnds = stages.flatMap { stage in stage.steps.indices.map { $0 == stage.steps.count - 1 ? stage.name : nil } }
    }

    func freshState() -> [VAEStepState] { Array(repeating: VAEStepState(), count: steps.count) }

    /// For each step, the index of its stage.
    var stageOfStep: [Int] { stages.enumerated().flatMap { index, stage in stage.steps.map { _ in index } } }

    /// Applies step `i` to a chunk of frames; nil when the chunk completes no output frame (a strided
    /// temporal convolution waiting for the rest of its group).
    static func apply(_ step: VAEStep, _ x: Tensor, _ state: inout VAEStepState) -> Tensor? {
        defer { state.seen += x.shape[0] }
        switch step {
        case .spaceToDepth(let r): return VideoResample.spaceToDepth(x, factor: r)
        case .depthToSpace(let r): return VideoResample.depthToSpace(x, factor: r)
        case .conv(let conv): return conv(x, &state.first)
        case .resBlock(let block): return block(x, &state.first, &state.second)
        case .normSiLU(let weight, let eps): return ChannelNorm.rmsNormSiLU(x, weight: weight, eps: eps)
        case .repeatFrames: return VideoResample.repeatFrames(x, firstIsVideoStart: state.seen == 0)
        case .splitFrames: return VideoResample.splitFrames(x, firstIsVideoStart: state.seen == 0)
        }
    }

    /// Pushes a chunk through steps `from...`, handing every frame (or chunk) that comes out of the last step
    /// to `emit`. With `framewise`, everything after the first step runs one frame at a time, so memory holds
    /// one frame per level however many frames a step makes; without it each step sees the whole chunk
    /// (whole-video forward). `observe` sees each stage's output (whole-video checks); `timing` gets each
    /// step's index and the process CPU seconds it took (profiling).
    func push(
        _ x: Tensor, from index: Int = 0, state: inout [VAEStepState], framewise: Bool,
        observe: ((String, Tensor) -> Void)? = nil, timing: ((Int, Double) -> Void)? = nil, emit: (Tensor) throws -> Void
    ) rethrows {
        guard index < steps.count else { return try emit(x) }
        let start = timing == nil ? 0 : processCPUSeconds()
        let result = Self.apply(steps[index], x, &state[index])
        timing?(index, processCPUSeconds() - start)
        guard let y = result else { return }
        if let name = stageEnds[index] { observe?(name, y) }
        let f = y.shape[0]
        if framewise && f > 1 {
            let frame = y.count / f, tail = Array(y.shape.dropFirst())
            for i in 0..<f {
                let one = Tensor(shape: [1] + tail, storage: Array(y.storage[(i * frame)..<((i + 1) * frame)]))
                try push(one, from: index + 1, state: &state, framewise: true, observe: observe, timing: timing, emit: emit)
            }
        } else {
            try push(y, from: index + 1, state: &state, framewise: framewise, observe: observe, timing: timing, emit: emit)
        }
    }
}

extension VAEPipeline {
    /// The encoder's stages (docs/ENGINE.md): patches to channels, conv_in, per level its residual blocks then
    /// its strided downsampling convolution, norm_out + SiLU, conv_out to mean and log-variance.
    static func encoder(_ config: VAEConfig, _ w: (String) -> Tensor) -> VAEPipeline {
        func conv(_ name: String, stride: (Int, Int, Int) = (1, 1, 1)) -> VAEConv {
            VAEConv(weight: w(name + ".weight"), bias: w(name + ".bias"), stride: stride)
        }
        var stages = [VAEStage(name: "encoder.conv_in", steps: [.spaceToDepth(config.patch), .conv(conv("encoder.conv_in"))])]
        for level in 0..<config.levels {
            stages += blocks(config, "encoder", level: level, w)
            if level < config.levels - 1 {
                let name = "encoder.levels.\(level).down"
                stages.append(VAEStage(name: name, steps: [.conv(conv(name, stride: (config.temporalDown[level] ? 2 : 1, 2, 2)))]))
            }
        }
        stages.append(VAEStage(name: "encoder.norm_out", steps: [.normSiLU(w("encoder.norm_out.weight"), eps: config.eps)]))
        stages.append(VAEStage(name: "encoder.conv_out", steps: [.conv(conv("encoder.conv_out"))]))
        return VAEPipeline(stages: stages)
    }

    /// The decoder's stages: conv_in, per level (coarsest first) its residual blocks then its upsampling
    /// (convolution to 4× the next width, depth-to-space by 2, frame repetition where time was halved; or
    /// convolution to 8× the next width, the halves as two frames, then depth-to-space),
    /// norm_out + SiLU, conv_out to pixel patches and depth-to-space to pixels.
    static func decoder(_ config: VAEConfig, _ w: (String) -> Tensor) -> VAEPipeline {
        func conv(_ name: String) -> VAEConv { VAEConv(weight: w(name + ".weight"), bias: w(name + ".bias"), stride: (1, 1, 1)) }
        var stages = [VAEStage(name: "decoder.conv_in", steps: [.conv(conv("decoder.conv_in"))])]
        for level in stride(from: config.levels - 1, through: 0, by: -1) {
            stages += blocks(config, "decoder", level: level, w)
            if level > 0 {
                let name = "decoder.levels.\(level).up"
                var steps: [VAEStep] = [.conv(conv(name))]
                if config.splitsTime(level: level) {
                    steps += [.splitFrames, .depthToSpace(2)]  // the halves are time, then each half's 4 sub-pixels
                } else {
                    steps.append(.depthToSpace(2))
                    if config.temporalDown[level - 1] { steps.append(.repeatFrames) }
                }
                stages.append(VAEStage(name: name, steps: steps))
            }
        }
        stages.append(VAEStage(name: "decoder.norm_out", steps: [.normSiLU(w("decoder.norm_out.weight"), eps: config.eps)]))
        stages.append(VAEStage(name: "decoder.conv_out", steps: [.conv(conv("decoder.conv_out")), .depthToSpace(config.patch)]))
        return VAEPipeline(stages: stages)
    }

    static func blocks(_ config: VAEConfig, _ prefix: String, level: Int, _ w: (String) -> Tensor) -> [VAEStage] {
        (0..<config.blocks[level]).map { j in
            let b = "\(prefix).levels.\(level).blocks.\(j)"
            func conv(_ name: String) -> VAEConv { VAEConv(weight: w(b + name + ".weight"), bias: w(b + name + ".bias"), stride: (1, 1, 1)) }
            let block = VAEResBlock(norm1: w(b + ".norm1.weight"), conv1: conv(".conv1"), norm2: w(b + ".norm2.weight"), conv2: conv(".conv2"), eps: config.eps)
            return VAEStage(name: b, steps: [.resBlock(block)])
        }
    }
}


/// CPU seconds used by this process so far, all threads together (a profile that the machine's other load
/// does not stretch, unlike wall time).
func processCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
