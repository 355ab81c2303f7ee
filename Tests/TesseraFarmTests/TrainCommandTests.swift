import Foundation
import Testing
import TesseraFarm
import TesseraModels
import TesseraTensor

/// `tessera train vae` killed with SIGKILL mid-run and started again ends with the same weights, bit for
/// bit, as a run never interrupted (tiny crops so the debug binary is quick).
@Suite struct TrainCommandTests {
    static func arguments(_ folder: URL) -> [String] {
        ["train", "vae", "--out", folder.path, "--steps", "6", "--batch", "1", "--crop", "16", "--checkpoint-every", "2", "--threads", "1"]
    }

    static func weights(_ folder: URL) throws -> [String: Tensor] {
        let file = try SafetensorsFile(path: folder.appendingPathComponent("checkpoint.safetensors").path)
        var tensors: [String: Tensor] = [:]
        for name in file.names { tensors[name] = try file.tensor(name) }
        return tensors
    }

    @Test func aKilledRunResumesToTheSameWeights() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-train-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let straight = root.appendingPathComponent("straight"), killed = root.appendingPathComponent("killed")
        let binary = try TesseraProcess.binary(), environment = ProcessInfo.processInfo.environment

        let whole = try ChildProcess.run(binary, Self.arguments(straight), environment: environment)
        #expect(whole.status == 0, "\(whole.output)")

        let log = root.appendingPathComponent("killed.log").path
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let child = try ChildProcess(executable: binary, arguments: Self.arguments(killed), environment: environment, outputFile: log)
        try waitUntil(120, "the first checkpoint") {
            FileManager.default.fileExists(atPath: killed.appendingPathComponent("checkpoint.safetensors").path)
        }
        child.signal(SIGKILL)
        _ = child.wait()
        let resumed = try ChildProcess.run(binary, Self.arguments(killed), environment: environment)
        #expect(resumed.status == 0 && resumed.output.contains("resuming from"), "\(resumed.output)")

        #expect(try Self.weights(killed) == Self.weights(straight), "weights, moments and EMA equal an uninterrupted run")
        let steps = try String(contentsOf: killed.appendingPathComponent("loss.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst().map { Int($0.split(separator: ",")[0])! }
        #expect(steps == Array(0..<6), "the loss log holds each step once: \(steps)")

        // Resumed with another crop and batch: refused, naming both, and the checkpoint is untouched.
        let other = Self.arguments(killed).map { $0 == "16" ? "32" : $0 } + ["--steps", "8", "--batch", "2"]
        let otherRun = try ChildProcess.run(binary, other, environment: environment)
        #expect(otherRun.status != 0 && otherRun.output.contains("--batch 1 (not 2), --crop 16 (not 32)"), "\(otherRun.output)")
        #expect(try Self.weights(killed) == Self.weights(straight), "the refused resume changed nothing")
        let shapeRun = try ChildProcess.run(binary, Self.arguments(killed) + ["--temporal-upsampling", "split"], environment: environment)
        #expect(shapeRun.status != 0 && shapeRun.output.contains("holds a checkpoint of another VAE"), "\(shapeRun.output)")
        #expect(try VAEConfig.load(killed.appendingPathComponent("vae.json").path).temporalUpsampling != .splitChannels, "nor its config")

        // The trained VAE's held-out PSNR, and its picture.
        let sheet = root.appendingPathComponent("sheet.png")
        let evaluation = try ChildProcess.run(
            binary, ["train", "eval-vae", "--vae", killed.path, "--clips", "1", "--frames", "1", "--sheet", sheet.path, "--json"], environment: environment)
        #expect(evaluation.status == 0, "\(evaluation.output)")
        let json = try JSONSerialization.jsonObject(with: Data(evaluation.output.utf8)) as? [String: Any]
        let mean = json?["meanPSNR"] as? Double ?? -1
        #expect(mean > 0 && mean < 60, "a barely trained VAE reconstructs poorly but measurably: \(mean) dB")
        #expect(FileManager.default.fileExists(atPath: sheet.path))

        // Exported alone (no --dit): vae.json and a float16 vae.safetensors that reconstructs as the original.
        let exported = root.appendingPathComponent("exported")
        let export = try ChildProcess.run(binary, ["train", "export", "--vae", killed.path, "--out", exported.path], environment: environment)
        #expect(export.status == 0 && export.output.contains("the VAE in float16"), "\(export.output)")
        let files = try FileManager.default.contentsOfDirectory(atPath: exported.path).sorted()
        #expect(files == ["vae.json", "vae.safetensors"], "\(files)")
        let half = try SafetensorsFile(path: exported.appendingPathComponent("vae.safetensors").path)
        #expect(Set(half.entries.values.map(\.dtype)) == ["F16"])
        let again = try ChildProcess.run(binary, ["train", "eval-vae", "--vae", exported.path, "--clips", "1", "--frames", "1", "--json"], environment: environment)
        let halfMean = (try JSONSerialization.jsonObject(with: Data(again.output.utf8)) as? [String: Any])?["meanPSNR"] as? Double ?? -1
        #expect(again.status == 0 && abs(halfMean - mean) < 0.05, "float16 export: \(halfMean) dB against \(mean)")

        // A DiT folder that is not there is named, and nothing is written.
        let nowhere = root.appendingPathComponent("no-dit"), refused = root.appendingPathComponent("refused")
        let bad = try ChildProcess.run(binary, ["train", "export", "--dit", nowhere.path, "--vae", killed.path, "--out", refused.path], environment: environment)
        #expect(bad.status != 0 && bad.output.contains("no-dit"), "\(bad.output)")
        #expect(!FileManager.default.fileExists(atPath: refused.path))
    }
}
