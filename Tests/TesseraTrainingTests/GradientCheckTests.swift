import Foundation
import Testing
import TesseraTensor

@testable import TesseraTraining

/// Every operation's backward against central finite differences of its forward, in float32: the loss is
/// `Σ output ⊙ R` for a fixed random `R`, the step is 1e-2 and the bound 2e-2 relative to the largest
/// gradient (float32 rounding of differences of O(1) sums; a wrong formula misses by O(1)).
@Suite struct GradientCheckTests {
    static func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        Tensor(shape: shape, storage: NoiseGenerator(seed: seed, stream: 11).fill(shape.reduce(1, *)).map { $0 * scale })
    }

    /// Checks d(Σ f(inputs) ⊙ R)/d(input) from the tape against finite differences, for every input.
    func check(_ inputs: [Tensor], tolerance: Float = 2e-2, _ f: (Tape, [Tape.Variable]) -> Tape.Variable) {
        func loss(_ values: [Tensor]) -> (Tape, [Tape.Variable], Tape.Variable) {
            let tape = Tape()
            let variables = values.map { tape.parameter($0) }
            let out = f(tape, variables)
            let weights = tape.constant(Self.random(tape.value(out).shape, seed: 99))
            let product = tape.multiplyRows(tape.reshape(out, [tape.value(out).count]), tape.reshape(weights, [tape.value(out).count]))
            return (tape, variables, sum(tape, product))
        }
        let (tape, variables, total) = loss(inputs)
        tape.backward(from: total)
        for (index, input) in inputs.enumerated() {
            let analytic = tape.gradient(variables[index]) ?? Tensor(zeros: input.shape)
            let step: Float = 1e-2
            var worst: Float = 0
            let largest = max(analytic.storage.map(abs).max() ?? 0, 1e-3)
            for element in 0..<min(input.count, 40) {
                let i = (element * 7919) % input.count
                var plus = inputs, minus = inputs
                plus[index].storage[i] += step
                minus[index].storage[i] -= step
                let (tp, _, lp) = loss(plus), (tm, _, lm) = loss(minus)
                let numeric = (tp.value(lp).storage[0] - tm.value(lm).storage[0]) / (2 * step)
                worst = max(worst, abs(numeric - analytic.storage[i]) / largest)
            }
            #expect(worst < tolerance, "input \(index): worst relative gradient error \(worst)")
        }
    }

    /// Σ of all elements (through a 1-row linear layer of ones, so the check uses only tested operations).
    func sum(_ tape: Tape, _ x: Tape.Variable) -> Tape.Variable {
        let n = tape.value(x).count
        let ones = tape.constant(Tensor(repeating: 1, shape: [1, n]))
        return tape.reshape(tape.linear(tape.reshape(x, [1, n]), weight: ones), [1])
    }

    @Test func linear() {
        check([Self.random([5, 7], seed: 1), Self.random([3, 7], seed: 2), Self.random([3], seed: 3)]) { t, v in
            t.linear(v[0], weight: v[1], bias: v[2])
        }
    }

    @Test func elementwise() {
        check([Self.random([4, 6], seed: 4, scale: 2)]) { t, v in t.gelu(v[0]) }
        check([Self.random([4, 6], seed: 5, scale: 2)]) { t, v in t.silu(v[0]) }
        check([Self.random([4, 6], seed: 6), Self.random([6], seed: 7)]) { t, v in t.multiplyRows(v[0], v[1]) }
        check([Self.random([4, 6], seed: 8), Self.random([6], seed: 9)]) { t, v in t.addRows(v[0], v[1]) }
        check([Self.random([4, 6], seed: 10), Self.random([6], seed: 11), Self.random([6], seed: 12)]) { t, v in
            t.modulate(v[0], shift: v[1], scale: v[2])
        }
        check([Self.random([4, 6], seed: 13), Self.random([4, 6], seed: 14)]) { t, v in t.meanSquaredError(v[0], v[1]) }
        // Weighted: one weight per row of 6, shared by its elements.
        let weights = Tensor(shape: [4], storage: [0.5, 2, 1, 0.25])
        check([Self.random([4, 6], seed: 21), Self.random([4, 6], seed: 22)]) { t, v in t.meanSquaredError(v[0], v[1], weights: weights) }
        check([Self.random([4, 6], seed: 15)]) { t, v in t.columns(v[0], 2, 3) }
    }

    @Test func norms() {
        check([Self.random([5, 8], seed: 16, scale: 2)]) { t, v in t.layerNorm(v[0]) }
        check([Self.random([5, 8], seed: 17, scale: 2), Self.random([4], seed: 18)]) { t, v in t.rmsNorm(v[0], weight: v[1]) }
    }

    @Test func rotaryAndPatches() {
        let grid = Attention.Grid(frames: 2, height: 2, width: 3)
        let tables = Spacetime.ropeTables(grid: grid, dims: (2, 2, 4), referenceTokens: 4)
        check([Self.random([grid.count, 16], seed: 19)]) { t, v in t.rope(v[0], heads: 2, cos: tables.cos, sin: tables.sin) }
        check([Self.random([2, 4, 6, 3], seed: 20)]) { t, v in t.patchify(v[0], patch: (1, 2, 2)) }
    }

    @Test(arguments: ["all", "masked", "spatial", "temporal"])
    func attention(_ layout: String) {
        let grid = Attention.Grid(frames: 3, height: 2, width: 2)
        let groups: [AttentionGroup] = switch layout {
        case "all": AttentionGroup.all(queries: grid.count, keys: grid.count)
        case "masked": AttentionGroup.all(queries: grid.count, keys: 5)
        case "spatial": AttentionGroup.spatial(grid)
        default: AttentionGroup.temporal(grid)
        }
        check([Self.random([grid.count, 8], seed: 21), Self.random([grid.count, 8], seed: 22), Self.random([grid.count, 8], seed: 23)]) { t, v in
            t.attention(q: v[0], k: v[1], v: v[2], heads: 2, groups: groups)
        }
    }

    /// Grids large enough that every product goes to `cblas_sgemm` with strided rows (the small ones above use
    /// the plain loop): the forward against the engine's attention group by group, the backward against
    /// finite differences.
    @Test(arguments: [[2, 12, 12, 0], [2, 12, 12, 1], [32, 3, 3, 2]])
    func attentionAtBLASSizes(_ shape: [Int]) {
        let grid = Attention.Grid(frames: shape[0], height: shape[1], width: shape[2])
        let groups = [AttentionGroup.all(queries: grid.count, keys: grid.count), AttentionGroup.spatial(grid), AttentionGroup.temporal(grid)][shape[3]]
        let inputs = (0..<3).map { Self.random([grid.count, 128], seed: 40 + UInt64($0)) }
        let tape = Tape()
        let out = tape.value(tape.attention(q: tape.constant(inputs[0]), k: tape.constant(inputs[1]), v: tape.constant(inputs[2]), heads: 2, groups: groups))
        var worst: Float = 0
        for group in groups {
            let rows = (0..<group.queries).map { group.q + $0 * group.stride }
            func gather(_ t: Tensor) -> Tensor { Tensor(shape: [rows.count, 128], storage: rows.flatMap { Array(t.storage[($0 * 128)..<($0 * 128 + 128)]) }) }
            let expected = Attention.attend(q: gather(inputs[0]), k: gather(inputs[1]), v: gather(inputs[2]), heads: 2)
            for (i, row) in rows.enumerated() {
                for c in 0..<128 { worst = max(worst, abs(out.storage[row * 128 + c] - expected.storage[i * 128 + c])) }
            }
        }
        #expect(worst < 1e-5, "largest difference from the engine \(worst)")
        check(inputs) { t, v in t.attention(q: v[0], k: v[1], v: v[2], heads: 2, groups: groups) }
    }

    @Test func aWrongGradientFailsTheCheck() {
        // The check itself: a deliberately wrong backward (GELU's derivative without its second term) is caught.
        let x = Self.random([4, 6], seed: 24, scale: 2)
        let tape = Tape()
        let v = tape.parameter(x)
        let wrong = tape.record(Elementwise.gelu(x), [v]) { g in [g] }  // pretends d gelu/dx = 1
        tape.backward(from: sum(tape, wrong))
        let analytic = tape.gradient(v)!
        let step: Float = 1e-2
        var plus = x
        plus.storage[3] += step
        var minus = x
        minus.storage[3] -= step
        let numeric = (Elementwise.gelu(plus).storage.reduce(0, +) - Elementwise.gelu(minus).storage.reduce(0, +)) / (2 * step)
        #expect(abs(numeric - analytic.storage[3]) > 0.05)
    }
}

extension GradientCheckTests {
    @Test(arguments: [[3, 3, 3, 1, 1, 1], [3, 3, 3, 2, 2, 2], [1, 3, 3, 1, 2, 2], [3, 1, 1, 2, 1, 1]])
    func conv3d(_ shape: [Int]) {
        let (kt, kh, kw) = (shape[0], shape[1], shape[2]), stride = (shape[3], shape[4], shape[5])
        check([Self.random([5, 4, 5, 2], seed: 30), Self.random([3, 2, kt, kh, kw], seed: 31, scale: 0.3), Self.random([3], seed: 32)]) { t, v in
            t.conv3d(v[0], weight: v[1], bias: v[2], stride: stride)
        }
    }
}

extension GradientCheckTests {
    @Test func latentOperations() {
        check([Self.random([3, 5], seed: 40), Self.random([3, 5], seed: 41)]) { t, v in t.multiply(v[0], v[1]) }
        check([Self.random([3, 5], seed: 42)]) { t, v in t.exponential(v[0], scale: 0.5) }
        check([Self.random([3, 5], seed: 43)]) { t, v in t.mean(v[0]) }
    }
}
