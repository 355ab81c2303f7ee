import Foundation
import Testing
import TesseraMedia
import TesseraModels
import TesseraTensor
import TesseraTraining
import TesseraWorld

@testable import TesseraCLI

/// `tessera train vae|dit --data FOLDER`: training on the user's own videos with captions beside them.
@Suite(.serialized) struct TrainDataTests {
    /// A folder with a 320x180 video of 30 frames and a 180x320 one of 12, each with a caption.
    static func folder(captions: Bool = true) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, width, height, count) in [("wide", 320, 180, 30), ("tall", 180, 320, 12)] {
            let writer = try VideoWriter(url: folder.appendingPathComponent("\(name).mp4"), settings: VideoSettings(width: width, height: height, frameRate: 24, crf: 18))
            for i in 0..<count { try writer.append(TestPattern.frame(i, width: width, height: height)) }
            try writer.finish()
            if captions { try "a \(name) test pattern\n".write(to: folder.appendingPathComponent("\(name).txt"), atomically: true, encoding: .utf8) }
        }
        return folder
    }

    @Test func clipsCoverTheirAspectBucketAreRepeatableAndTrimmedToTheVideo() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let data = try VideoFolder(path: folder.path, captions: true)
        #expect(data.entries.map(\.video.lastPathComponent) == ["tall.mp4", "wide.mp4"])
        #expect(data.entries.map(\.bucket) == [.portrait, .landscape])
        var seen: Set<String> = []
        for key in UInt64(0)..<12 {
            let (video, caption) = try data.clip(key: key, frames: 17)
            seen.insert(caption)
            if caption == "a wide test pattern" {
                #expect(video.shape == [17, 288, 512, 3])
            } else {
                #expect(caption == "a tall test pattern")
                #expect(video.shape == [9, 512, 288, 3], "12 frames give the 1 + 4k = 9 that fit")
            }
            #expect(video.storage.allSatisfy { $0 >= -1 && $0 <= 1 })
            #expect(video.storage.contains { $0 > -0.9 }, "the picture is not black")
            #expect(try data.clip(key: key, frames: 17).video.storage == video.storage, "a draw depends on its key only")
        }
        #expect(seen.count == 2, "both videos are drawn")
        let crop = try data.crop(key: 3, frames: 5, side: 96)
        #expect(crop.shape == [5, 96, 96, 3])
    }

    @Test func aBadFolderIsAnErrorNamingTheFileBeforeAnyTraining() throws {
        let folder = try Self.folder(captions: false)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: Error.self) { _ = try VideoFolder(path: folder.appendingPathComponent("nope").path, captions: false) }
        do {
            _ = try VideoFolder(path: folder.path, captions: true)
            Issue.record("a video without a caption was accepted")
        } catch {
            #expect("\(error)".contains("tall.mp4 has no caption"))
            #expect("\(error)".contains("tall.txt"))
        }
        #expect(try VideoFolder(path: folder.path, captions: false).entries.count == 2, "the VAE needs no captions")
        try Data("not a video".utf8).write(to: folder.appendingPathComponent("broken.mp4"))
        do {
            _ = try VideoFolder(path: folder.path, captions: false)
            Issue.record("a broken video was accepted")
        } catch {
            #expect("\(error)".contains("broken.mp4 is not a video"))
        }
        let empty = folder.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        do {
            _ = try VideoFolder(path: empty.path, captions: false)
            Issue.record("an empty folder was accepted")
        } catch {
            #expect("\(error)".contains("holds no videos"))
        }
        let out = folder.appendingPathComponent("run")
        #expect(throws: Error.self) {
            var command = try TesseraCommand.parseAsRoot(["train", "vae", "--preset", "tiny", "--data", folder.path, "--out", out.path, "--steps", "1"])
            try command.run()
        }
        #expect(!FileManager.default.fileExists(atPath: out.path), "nothing was written")
        do {
            var command = try TesseraCommand.parseAsRoot(["train", "vae", "--temporal-upsampling", "sideways", "--out", out.path, "--steps", "1"])
            try command.run()
            Issue.record("an unknown temporal upsampling was accepted")
        } catch {
            #expect("\(error)".contains("--temporal-upsampling must be repeat or split, not sideways"))
        }
        #expect(!FileManager.default.fileExists(atPath: out.path), "nothing was written")
        #expect(throws: Error.self) {
            var command = try TesseraCommand.parseAsRoot(["train", "dit", "--vae", out.path, "--data", folder.path, "--out", out.path, "--steps", "1"])
            try command.run()
        }
        #expect(!FileManager.default.fileExists(atPath: out.path), "the DiT trainer checks the folder first too")
    }

    /// Both trainers take steps on the folder: the tiny VAE (with the decoder that splits channels into frames),
    /// then the DiT on its latents with the real text encoder.
    @Test func theVAEAndTheDiTTrainOnAFolderOfVideos() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let vae = folder.appendingPathComponent("vae"), dit = folder.appendingPathComponent("dit")
        var command = try TesseraCommand.parseAsRoot([
            "train", "vae", "--preset", "tiny", "--data", folder.path, "--out", vae.path, "--steps", "2", "--batch", "2", "--crop", "64", "--threads", "1",
            "--temporal-upsampling", "split",
        ])
        try command.run()
        #expect(try VAEConfig.load(vae.appendingPathComponent("vae.json").path).temporalUpsampling == .splitChannels)
        let vaeLog = try String(contentsOf: vae.appendingPathComponent("loss.csv"), encoding: .utf8)
        #expect(vaeLog.split(separator: "\n").count == 3, "a header and two steps")
        #expect(FileManager.default.fileExists(atPath: vae.appendingPathComponent("vae.safetensors").path))

        // The DiT, narrowed by --width and --depth: three steps straight, and the same three stopped after the first
        // (a --minutes budget already spent) and resumed. Straight, step 1's new clip is encoded beside step 0's
        // samples; resumed, in step 1's own batch: the checkpoints must be the same bits.
        func trainDiT(_ out: URL, _ extra: [String] = []) throws {
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            try #"{"latentScale": 1}"#.write(to: out.appendingPathComponent("model.json"), atomically: true, encoding: .utf8)
            var train = try TesseraCommand.parseAsRoot([
                "train", "dit", "--vae", vae.path, "--data", folder.path, "--out", out.path, "--steps", "3", "--batch", "2", "--reuse", "2",
                "--width", "64", "--depth", "1", "--threads", "1", "--text-encoder", VideoRenderTests.textEncoder.path,
            ] + extra)
            try train.run()
        }
        let resumed = folder.appendingPathComponent("dit-resumed")
        try trainDiT(dit)
        try trainDiT(resumed, ["--minutes", "0.000001"])
        #expect(try TrainCommandTests.weights(resumed).count > 0)
        #expect(try TrainCommandTests.weights(resumed) != TrainCommandTests.weights(dit), "stopped after one step")
        try trainDiT(resumed)
        #expect(try TrainCommandTests.weights(resumed) == TrainCommandTests.weights(dit), "resumed = straight, whichever path encoded a clip")
        let ditLog = try String(contentsOf: dit.appendingPathComponent("loss.csv"), encoding: .utf8)
        let losses = ditLog.split(separator: "\n").dropFirst().compactMap { Float($0.split(separator: ",")[1]) }
        #expect(losses.count == 3 && losses.allSatisfy { $0.isFinite && $0 > 0 }, "three finite DiT losses: \(ditLog)")
        let config = try DiTConfig.load(dit.appendingPathComponent("dit.json").path)
        #expect(config.hidden == 64 && config.heads == 1 && config.depth == 1 && !config.usesVelocitySkip && !config.usesFramePositions, "the shipped model's shape by default")
        let finished = try TrainCommandTests.weights(resumed)
        for (other, refusal) in [(["--velocity-skip"], "holds a checkpoint of another DiT shape"),
                                 (["--prediction", "clean"], "holds a checkpoint of another DiT shape"),
                                 (["--velocity-skip", "--prediction", "clean"], "exclude each other"),
                                 (["--mask-share", "0.5"], "resume it with the ones that started it, --mask-share 0.0 (not 0.5)"),
                                 (["--seed", "9", "--reuse", "1"], "--reuse 2 (not 1), --seed 1 (not 9)")] {
            do {
                try trainDiT(resumed, other)
                Issue.record("a checkpoint of a plain velocity DiT resumed with \(other)")
            } catch {
                #expect("\(error)".contains(refusal), "\(other): \(error)")
            }
            #expect(try TrainCommandTests.weights(resumed) == finished, "the refused resume changed nothing")
            let saved = try DiTConfig.load(resumed.appendingPathComponent("dit.json").path)
            #expect(!saved.usesVelocitySkip && saved.predicts == .velocity, "nor its config")
        }
        do {
            var command = try TesseraCommand.parseAsRoot(["train", "dit", "--vae", vae.path, "--out", dit.path, "--width", "100"])
            try command.run()
            Issue.record("--width 100 was accepted")
        } catch {
            #expect("\(error)".contains("--width must be a positive multiple of 64"), "\(error)")
        }
        // A DiT narrower than a token's 256 latent values is warned about when it predicts the velocity (session
        // 30's stall), not when it predicts the clean latent (session 32) nor when it is wide enough.
        var narrow = DiTConfig.world
        (narrow.hidden, narrow.heads) = (128, 2)
        #expect(narrow.patchVolume == 256)
        let warning = try #require(TrainCommand.TrainDiT.narrowWidthWarning(narrow), "width 128 predicting the velocity")
        #expect(warning.contains("--width 128 is narrower than a token's 256 latent values") && warning.contains("keep --width at or above 256"), "\(warning)")
        narrow.prediction = .clean
        #expect(TrainCommand.TrainDiT.narrowWidthWarning(narrow) == nil, "the clean prediction takes the noise from x_t")
        #expect(TrainCommand.TrainDiT.narrowWidthWarning(DiTConfig.world) == nil, "width \(DiTConfig.world.hidden) carries it")

        // --short-side: world clips at a smaller size, the same scenes' layout; bad values and folders refused.
        let autoencoder = try VAE(configPath: vae.appendingPathComponent("vae.json").path, weightsPath: vae.appendingPathComponent("vae.safetensors").path)
        let factor = autoencoder.config.spatialFactor
        var sizes = Set<[Int]>()
        for index in 0..<6 {
            let (latent, caption) = try WorldLatents.sample(seed: 5, step: 0, index: index, vae: autoencoder, frameChoices: [1], shortSide: 160)
            let example = TrainingSample(seed: WorldLatents.key(seed: 5, step: 0, index: index), shortSide: 160, frames: 1)
            #expect(min(example.width, example.height) == 160 && [160, 288].contains(max(example.width, example.height)))
            #expect(latent.shape == [1, example.height / factor, example.width / factor, autoencoder.config.latentChannels] && caption == example.caption)
            sizes.insert([example.width, example.height])
        }
        #expect(sizes.count > 1, "more than one aspect among six clips: \(sizes)")

        // --object-weight and --object-counts: world clips carry their objects' cells on the latent grid, and the
        // weighted loss is another loss on the same clips, noise and times.
        let single = try WorldLatents.example(seed: 5, step: 0, index: 0, vae: autoencoder, frameChoices: [5], shortSide: 160, objectCounts: [(1, 1)])
        let cells = try #require(single.objectCells)
        #expect(cells.shape == Array(single.latent.shape.dropLast()), "one weight per latent cell: \(cells.shape) for \(single.latent.shape)")
        #expect(cells.storage.contains(1) && cells.storage.contains(0))
        let weights = FlowSample.weights(mask: cells, weight: 10)
        #expect(abs(weights.storage.reduce(0, +) / Float(weights.count) - 1) < 1e-4, "mean weight 1")
        #expect(abs(weights.storage.max()! / weights.storage.min()! - 10) < 1e-3, "object cells ten times the background")
        func worldLosses(_ name: String, _ extra: [String]) throws -> [Float] {
            let out = folder.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            try #"{"latentScale": 1}"#.write(to: out.appendingPathComponent("model.json"), atomically: true, encoding: .utf8)
            var train = try TesseraCommand.parseAsRoot([
                "train", "dit", "--vae", vae.path, "--out", out.path, "--steps", "2", "--batch", "2", "--frames", "1,5", "--short-side", "160",
                "--width", "64", "--depth", "1", "--threads", "1", "--text-encoder", VideoRenderTests.textEncoder.path, "--object-counts", "1,0,0",
            ] + extra)
            try train.run()
            let log = try String(contentsOf: out.appendingPathComponent("loss.csv"), encoding: .utf8)
            return log.split(separator: "\n").dropFirst().compactMap { Float($0.split(separator: ",")[1]) }
        }
        let plain = try worldLosses("dit-world", []), weighted = try worldLosses("dit-world-weighted", ["--object-weight", "10"])
        #expect(plain.count == 2 && weighted.count == 2 && (plain + weighted).allSatisfy { $0.isFinite && $0 > 0 }, "\(plain) \(weighted)")
        #expect(plain[0] != weighted[0], "the object weight changes the loss of the same first step: \(plain) \(weighted)")

        // --token-pixels 16: 2×2 latent patches of the 8× VAE, four times the tokens of the same clips.
        let fine = try worldLosses("dit-world-fine", ["--token-pixels", "16"])
        #expect(fine.count == 2 && fine.allSatisfy { $0.isFinite && $0 > 0 }, "\(fine)")
        let fineConfig = try DiTConfig.load(folder.appendingPathComponent("dit-world-fine/dit.json").path)
        let plainConfig = try DiTConfig.load(folder.appendingPathComponent("dit-world/dit.json").path)
        #expect(fineConfig.patch == [1, 16 / factor, 16 / factor] && plainConfig.patch == [1, 32 / factor, 32 / factor],
                "\(fineConfig.patch) \(plainConfig.patch)")

        // --grounding: the clips' objects added where they start through a matrix that starts at zero, so the
        // first step's loss is the plain run's; and a plain model may start a grounded one (--init).
        let grounded = try worldLosses("dit-world-grounded", ["--grounding"])
        let groundedConfig = try DiTConfig.load(folder.appendingPathComponent("dit-world-grounded/dit.json").path)
        #expect(groundedConfig.grounding == ObjectGrounding.featureCount && plainConfig.grounding == nil)
        #expect(grounded.count == 2 && grounded[0] == plain[0], "\(grounded) \(plain)")
        let fromPlain = try worldLosses("dit-world-grounded-init", ["--grounding", "--init", folder.appendingPathComponent("dit-world").path])
        #expect(fromPlain.count == 2 && fromPlain.allSatisfy { $0.isFinite && $0 > 0 }, "\(fromPlain)")
        for run in ["dit-world-grounded", "dit-world-grounded-init"] {
            let learned = try SafetensorsFile.weights(at: folder.appendingPathComponent("\(run)/dit.safetensors").path, expected: groundedConfig.expectedWeights)
            #expect(learned[DiTConfig.groundingWeight]!.storage.contains { $0 != 0 }, "\(run): the grounding matrix learned from zero")
        }

        let refused = folder.appendingPathComponent("dit-refused")
        for (extra, message) in [(["--short-side", "100"], "--short-side must be a positive multiple of 32"),
                                 (["--token-pixels", "24"], "--token-pixels must be 8, 16 or 32"),
                                 (["--short-side", "160", "--data", folder.path], "--short-side applies to world clips"),
                                 (["--object-weight", "0"], "--object-weight must be a positive number"),
                                 (["--object-counts", "1,2"], "--object-counts must be three non-negative weights"),
                                 (["--object-counts", "0,0,0"], "--object-counts must be three non-negative weights"),
                                 (["--object-weight", "4", "--data", folder.path], "--object-weight and --object-counts apply to world clips"),
                                 (["--grounding", "--data", folder.path], "--grounding applies to world clips")] {
            do {
                var command = try TesseraCommand.parseAsRoot(["train", "dit", "--vae", vae.path, "--out", refused.path] + extra)
                try command.run()
                Issue.record("\(extra) was accepted")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: refused.path), "nothing was written")
    }
}
