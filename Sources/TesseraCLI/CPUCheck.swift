import Foundation

/// The numeric kernels are built for AVX2 and FMA on x86-64 (see Package.swift). This target is built for
/// the baseline, so it can look at the CPU before any kernel runs and refuse clearly instead of dying on
/// an illegal instruction.
enum CPUCheck {
    /// The features the kernels need that this CPU lacks, or nil when it has them all (or this is not an
    /// x86-64 Linux machine, or its flags cannot be read).
    static func missingFeatures(cpuinfo path: String = "/proc/cpuinfo") -> [String]? {
        #if arch(x86_64) && os(Linux)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return nil }
        let flags = Set(line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }).map(String.init))
        let missing = ["avx2", "fma"].filter { !flags.contains($0) }.map { $0.uppercased() }
        return missing.isEmpty ? nil : missing
        #else
        return nil
        #endif
    }
}
