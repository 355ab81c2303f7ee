import Foundation
import Testing
@testable import TesseraTensor

@Suite struct GELUExactTests {
    // glibc's erff is within 1 ulp and the product adds two roundings: a few ulps of values below 10.
    @Test(arguments: [1, 2])
    func matchesTheDoubleReference(_ threads: Int) {
        Compute.setThreads(threads)
        defer { Compute.setThreads(1) }
        let x = Tensor(shape: [40_001], storage: (0...40_000).map { Float($0 - 20_000) / 2_000 })  // −10 … 10, several chunks
        let fast = Elementwise.geluExact(x), reference = ReferenceKernels.geluExact(x)
        #expect(maxDifference(fast, reference) < 2e-6)
        #expect(fast.storage[20_000] == 0 && fast.storage[0] > -1e-20 && fast.storage[40_000] == 10)
    }

    // The tanh form differs from the exact one by up to ~5e-4 near |x| ≈ 2: large enough that a text encoder
    // run with the wrong GELU fails its 1e-4 golden comparison.
    @Test func differsFromTheTanhForm() {
        let x = Tensor(shape: [801], storage: (0...800).map { Float($0 - 400) / 100 })
        let gap = maxDifference(Elementwise.geluExact(x), Elementwise.gelu(x))
        #expect(gap > 1e-4 && gap < 1e-3, "tanh vs erf GELU: \(gap)")
    }
}
