import Foundation
import Testing
import TesseraFarm
import TesseraModels

/// `bench dit` takes each forward's share of the sgemm peak against the peak measured just before it.
struct DiTBenchmarkTests {
    let imageCase = DiTBenchmark.standardCases[1]

    @Test func eachForwardIsSetAgainstItsOwnPeakAndTheMedianIsQuoted() throws {
        let gflop = DiT.flops(config: .small, grid: imageCase.grid, textLength: 12, layout: imageCase.layout)
        let work = (gflop.linear + gflop.attention) / 1e9
        // Forward 2 ran while the machine was slowed to half: so was its peak, and its share is the others'.
        let measurement = DiTBenchmark.Measurement(
            seconds: [work / 150, work / 75, work / 140], peakRSSBytes: 1 << 27, loadedRSSBytes: 1 << 26, sgemmGflops: [200, 100, 200])
        let row = try DiTBenchmark.row(imageCase, config: .small, tessera: measurement, numpy: nil)
        #expect(row.shares.map { ($0 * 1000).rounded() / 1000 } == [0.75, 0.75, 0.7])
        #expect(abs(row.shareOfPeak - 0.75) < 1e-9)
        #expect(row.sgemmGflops == 200)
        #expect(abs(row.seconds - work / 140) < 1e-12)
    }

    @Test func aMeasurementWithoutPairedPeaksIsAnError() {
        let unpaired = DiTBenchmark.Measurement(seconds: [1, 1], peakRSSBytes: 1 << 27, loadedRSSBytes: nil)
        #expect(throws: BenchmarkError.self) { try DiTBenchmark.row(imageCase, config: .small, tessera: unpaired, numpy: nil) }
        let short = DiTBenchmark.Measurement(seconds: [1, 1], peakRSSBytes: 1 << 27, loadedRSSBytes: nil, sgemmGflops: [200])
        #expect(throws: BenchmarkError.self) { try DiTBenchmark.row(imageCase, config: .small, tessera: short, numpy: nil) }
    }
}
