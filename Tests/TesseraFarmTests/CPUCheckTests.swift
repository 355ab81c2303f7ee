import Foundation
import Testing

@testable import TesseraCLI

@Suite struct CPUCheckTests {
    func check(_ flags: String) throws -> [String]? {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cpuinfo-\(UUID().uuidString)").path
        try "processor\t: 0\nflags\t\t: \(flags)\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return CPUCheck.missingFeatures(cpuinfo: path)
    }

    @Test func namesWhatTheKernelsNeedAndTheCPULacks() throws {
        #if arch(x86_64) && os(Linux)
        #expect(try check("fpu sse2 avx avx2 fma bmi2") == nil)
        #expect(try check("fpu sse2 avx fma") == ["AVX2"])
        #expect(try check("fpu sse2") == ["AVX2", "FMA"])
        #expect(CPUCheck.missingFeatures() == nil, "this machine runs the kernels")
        #else
        #expect(try check("fpu") == nil)
        #endif
    }
}
