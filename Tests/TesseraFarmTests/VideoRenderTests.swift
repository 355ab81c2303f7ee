import Foundation
import Testing
import TesseraMedia
import TesseraModels
import TesseraSampling
import TesseraStorage
import TesseraTensor
import TesseraWorld

@testable import TesseraFarm

/// The render a job runs, end to end with small random networks and the real text encoder: prompt in,
/// a prototype, its contact sheet and a 1080-line MP4 out; resumable from saved sampler states with the same
/// bytes as an uninterrupted run, at any thread count.
@Suite(.serialized) struct VideoRenderTests {
    static var textEncoder: URL {
        if let path = ProcessInfo.processInfo.environment["TESSERA_TEXT_ENCODER"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../models/all-MiniLM-L6-v2").standardized
    }

    /// A folder with a random tiny DiT (text width 384, as the encoder gives) and the tiny VAE.
    static func model() throws -> (RenderModel, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-render-\(UUID().uuidString)")
        try writeDiT(to: folder, seed: 9)
        try SafetensorsFile.write(VAE.randomWeights(.tiny), to: folder.appendingPathComponent("vae.safetensors").path)
        try JSONEncoder().encode(VAEConfig.tiny).write(to: folder.appendingPathComponent("vae.json"))
        return (try RenderModel(ditFolder: folder, vaeFolder: folder, textEncoder: textEncoder), folder)
    }

    /// A random tiny DiT's dit.json, dit.safetensors and model.json in `folder` (created).
    /// With `grounding`, the DiT takes grounded objects of that many features (its matrix zero if `zeroGrounding`).
    static func writeDiT(to folder: URL, seed: UInt64, latentScale: Float = 0.5, grounding: Int? = nil, zeroGrounding: Bool = false) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let dit = try DiTConfig(latentChannels: 4, patch: [1, 2, 2], hidden: 32, depth: 1, heads: 2, ropeDims: [4, 6, 6], grounding: grounding)
        var weights: [String: Tensor] = [:]
        var offset = 0
        for (name, shape) in dit.expectedWeights.sorted(by: { $0.key < $1.key }) {
            let count = shape.reduce(1, *)
            weights[name] = Tensor(shape: shape, storage: NoiseGenerator(seed: seed, stream: 1).fill(count, startingAt: offset).map { $0 * 0.1 })
            if zeroGrounding && name == DiTConfig.groundingWeight { weights[name] = Tensor(zeros: shape) }
            offset += count
        }
        try SafetensorsFile.write(weights, to: folder.appendingPathComponent("dit.safetensors").path)
        try JSONEncoder().encode(dit).write(to: folder.appendingPathComponent("dit.json"))
        try #"{"latentScale": \#(latentScale)}"#.write(to: folder.appendingPathComponent("model.json"), atomically: true, encoding: .utf8)
    }

    static func store(_ folder: URL, _ name: String) throws -> LocalStore {
        let store = LocalStore(root: folder.appendingPathComponent(name))
        try store.prepare()
        return store
    }

    static func frames(_ url: URL) throws -> (width: Int, height: Int, codec: String, count: Int) {
        let reader = try VideoReader(url: url)
        var count = 0
        while try reader.nextFrame() != nil { count += 1 }
        return (reader.info.width, reader.info.height, reader.info.codec, count)
    }

    struct Stop: Error {}

    @Test func aPrototypeOnlyJobGivesAPreviewAndAContactSheetAndEncodesItsPromptOnce() throws {
        let (model, folder) = try Self.model()
        defer { try? FileManager.default.removeItem(at: folder) }
        let render = VideoRender(model: model, artifacts: RenderArtifacts(store: try Self.store(folder, "objects"), job: "7", scratch: folder))
        let settings = RenderSettings(prompt: "a red ball bouncing", seed: 3, orientation: .portrait, frames: 5, fps: 12, steps: 3, guidance: 2, prototypeOnly: true)
        var shares: [Double] = []
        let before = model.captionsEncoded
        let outcome = try render.run(settings) { share, _ in shares.append(share) }
        #expect(model.captionsEncoded == before + 1, "the job encodes its prompt once")
        #expect(outcome.result["caption"]?.lowercased().contains("red") == true)
        #expect(outcome.result["video"] == nil)
        let video = try Self.frames(URL(string: outcome.result["prototype"]!)!)
        #expect(video.width == 288 && video.height == 512 && video.codec == "h264" && video.count == 5)
        let sheet = try Data(contentsOf: URL(string: outcome.result["contact_sheet"]!)!)
        #expect(sheet.starts(with: [0x89, 0x50, 0x4E, 0x47]), "the contact sheet is a PNG")
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("objects/jobs/7/preview.png").path))
        #expect(shares.last == 1 && shares == shares.sorted(), "progress rises to 1")
        #expect(outcome.timings["prototype_sample"] != nil && outcome.timings["full_sample"] == nil)
    }

    @Test func theFullPassIs1080LinesAndResumesToTheSameBytesAtAnyThreadCount() throws {
        let (model, folder) = try Self.model()
        defer {
            try? FileManager.default.removeItem(at: folder)
            Compute.setThreads(ProcessInfo.processInfo.activeProcessorCount)
        }
        let settings = RenderSettings(prompt: "a blue square sliding to the left", seed: 5, frames: 5, steps: 8, guidance: 3, refineStrength: 0.9)

        // Uninterrupted, on one thread.
        Compute.setThreads(1)
        let straight = try VideoRender(model: model, artifacts: RenderArtifacts(store: try Self.store(folder, "a"), job: "1", scratch: folder)).run(settings)
        let expected = try Data(contentsOf: URL(string: straight.result["video"]!)!)
        let video = try Self.frames(URL(string: straight.result["video"]!)!)
        #expect(video.width == 1920 && video.height == 1080 && video.count == 5)
        #expect(straight.timings["full_sample"] != nil && straight.timings["full_decode"] != nil)

        // (The 1080p schedule is shifted towards noise, so strength 0.9 leaves 5 of the 8 steps to the full pass.)
        // Stopped in the full pass after its second step (a kill at a step boundary), then run again on two
        // threads: it picks up the saved prototype and full-pass state.
        Compute.setThreads(2)
        let store = try Self.store(folder, "b")
        var render = VideoRender(model: model, artifacts: RenderArtifacts(store: store, job: "1", scratch: folder))
        render.checkpointInterval = 0
        var fullSteps = 0
        #expect(throws: Stop.self) {
            try render.run(settings) { _, stage in if stage == "full" { fullSteps += 1 } } checkStop: { if fullSteps >= 2 { throw Stop() } }
        }
        #expect(try store.head(key: ObjectKey("jobs/1/state/full.tsmp")) != nil, "the full pass's state was saved")
        #expect(try store.head(key: ObjectKey("jobs/1/video.mp4")) == nil, "no video yet")
        let resumed = try render.run(settings)
        #expect(resumed.timings["prototype_sample"] == nil, "the prototype was not sampled again")
        #expect(try Data(contentsOf: URL(string: resumed.result["video"]!)!) == expected, "resumed on two threads = uninterrupted on one")
    }

    /// A long video's full pass runs a window of latent frames at a time (60 s at 1080p would not fit
    /// otherwise); with windows of 2 latent frames sharing 1, a 9-frame render (3 latent frames) is tiled,
    /// and a render stopped in its full pass still resumes to the same bytes.
    @Test func aTiledFullPassResumesToTheSameBytes() throws {
        let (model, folder) = try Self.model()
        defer { try? FileManager.default.removeItem(at: folder) }
        let settings = RenderSettings(prompt: "a green triangle falling", seed: 6, frames: 9, steps: 6, guidance: 2, refineStrength: 0.9)
        func render(_ name: String, tiles: FrameTiles) throws -> VideoRender {
            var render = VideoRender(model: model, artifacts: RenderArtifacts(store: try Self.store(folder, name), job: "1", scratch: folder))
            render.fullPassTiles = tiles
            render.checkpointInterval = 0
            return render
        }
        let small = FrameTiles(tileFrames: 2, overlap: 1)
        let straight = try render("a", tiles: small).run(settings)
        let expected = try Data(contentsOf: URL(string: straight.result["video"]!)!)
        #expect(try Self.frames(URL(string: straight.result["video"]!)!).count == 9)

        let stopped = try render("b", tiles: small)
        var fullSteps = 0
        #expect(throws: Stop.self) {
            try stopped.run(settings) { _, stage in if stage == "full" { fullSteps += 1 } } checkStop: { if fullSteps >= 1 { throw Stop() } }
        }
        let resumed = try stopped.run(settings)
        #expect(resumed.timings["prototype_sample"] == nil)
        #expect(try Data(contentsOf: URL(string: resumed.result["video"]!)!) == expected, "resumed tiled = uninterrupted tiled")

        let untiled = try render("c", tiles: VideoRender(model: model, artifacts: stopped.artifacts).fullPassTiles).run(settings)
        #expect(try Data(contentsOf: URL(string: untiled.result["video"]!)!) != expected, "the small tiles were used")
    }

    @Test func anApprovedPrototypeIsNotSampledAgain() throws {
        let (model, folder) = try Self.model()
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Self.store(folder, "objects")
        var settings = RenderSettings(prompt: "a yellow star falling", seed: 8, frames: 1, steps: 3, guidance: 2, prototypeOnly: true)
        let first = try VideoRender(model: model, artifacts: RenderArtifacts(store: store, job: "10", scratch: folder)).run(settings)
        settings.prototypeOnly = false
        let approved = try VideoRender(model: model, artifacts: RenderArtifacts(store: store, job: "11", scratch: folder)).run(settings)
        #expect(approved.timings["prototype_sample"] == nil, "the approved job starts from the kept prototype")
        #expect(approved.result["video"] != nil)
        let a = try Data(contentsOf: URL(string: first.result["prototype"]!)!), b = try Data(contentsOf: URL(string: approved.result["prototype"]!)!)
        #expect(a.count > 0 && b.count > 0)
        // Another seed is another prototype.
        settings.seed = 9
        let other = try VideoRender(model: model, artifacts: RenderArtifacts(store: store, job: "12", scratch: folder)).run(settings)
        #expect(other.timings["prototype_sample"] != nil)
    }

    @Test func badSettingsAreRefusedBeforeAnyWork() throws {
        let (model, folder) = try Self.model()
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Self.store(folder, "objects")
        let render = VideoRender(model: model, artifacts: RenderArtifacts(store: store, job: "3", scratch: folder))
        #expect {
            try render.run(RenderSettings(prompt: "a red ball", seed: 1, frames: 6))
        } throws: { "\($0)".contains("1 + 4·k frames") }
        #expect(try store.list(prefix: "").isEmpty, "nothing was written")
    }

    /// Autoguidance needs a guide loaded (refused before any work otherwise), a guide must read the DiT's
    /// latents, the guide is part of the model's fingerprint, and it changes the prototype.
    @Test func autoguidanceUsesTheGuideAndIsRefusedWithoutOne() throws {
        let (model, folder) = try Self.model()
        defer { try? FileManager.default.removeItem(at: folder) }
        var settings = RenderSettings(prompt: "a blue square sliding", seed: 4, frames: 1, steps: 3, guidance: 2, prototypeOnly: true)
        settings.autoguidance = 2
        let empty = try Self.store(folder, "empty")
        #expect {
            try VideoRender(model: model, artifacts: RenderArtifacts(store: empty, job: "1", scratch: folder)).run(settings)
        } throws: { "\($0)".contains("autoguidance 2.0 needs a guiding network") }
        #expect(try empty.list(prefix: "").isEmpty, "nothing was written")

        let guideFolder = folder.appendingPathComponent("guide"), otherScale = folder.appendingPathComponent("other-scale")
        try Self.writeDiT(to: guideFolder, seed: 21)
        try Self.writeDiT(to: otherScale, seed: 21, latentScale: 0.75)
        #expect {
            try RenderModel(ditFolder: folder, vaeFolder: folder, textEncoder: Self.textEncoder, guideFolder: otherScale)
        } throws: { "\($0)".contains("scaled by 0.75") && "\($0)".contains("on 0.5") }
        let guided = try RenderModel(ditFolder: folder, vaeFolder: folder, textEncoder: Self.textEncoder, guideFolder: guideFolder)
        #expect(guided.guide != nil && guided.hash != model.hash, "the guide is part of the model's fingerprint")

        let store = try Self.store(folder, "objects")
        func prototype(_ a: Float, job: String) throws -> Data {
            var s = settings
            s.autoguidance = a
            let outcome = try VideoRender(model: guided, artifacts: RenderArtifacts(store: store, job: job, scratch: folder)).run(s)
            #expect(outcome.timings["prototype_sample"] != nil, "a = \(a) is its own prototype")
            return try Data(contentsOf: folder.appendingPathComponent("objects/jobs/\(job)/prototype.mp4"))
        }
        let plain = try prototype(1, job: "2"), twice = try prototype(2, job: "3")
        #expect(plain != twice, "autoguidance changes the video")
        #expect(settings.prototypeFingerprint(modelHash: "m") != RenderSettings(prompt: "a blue square sliding", seed: 4, frames: 1, steps: 3, guidance: 2, prototypeOnly: true).prototypeFingerprint(modelHash: "m"))
    }

    /// The prototype pass's stochasticity reaches its sampler: it changes the prototype and its fingerprint, and
    /// 0 leaves both as they were.
    @Test func stochasticityReachesThePrototypePass() throws {
        let (model, folder) = try Self.model()
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try Self.store(folder, "objects")
        let plain = RenderSettings(prompt: "a blue square sliding", seed: 4, frames: 1, steps: 3, guidance: 2, prototypeOnly: true)
        func prototype(_ eta: Double, job: String) throws -> (Data, String) {
            var s = plain
            s.stochasticity = eta
            let outcome = try VideoRender(model: model, artifacts: RenderArtifacts(store: store, job: job, scratch: folder)).run(s)
            #expect(outcome.timings["prototype_sample"] != nil, "η = \(eta) is its own prototype")
            return (try Data(contentsOf: folder.appendingPathComponent("objects/jobs/\(job)/prototype.mp4")), s.prototypeFingerprint(modelHash: "m"))
        }
        let (zero, zeroPrint) = try prototype(0, job: "1"), (one, onePrint) = try prototype(1, job: "2")
        #expect(zero != one, "stochastic steps change the video")
        #expect(zeroPrint == plain.prototypeFingerprint(modelHash: "m") && onePrint != zeroPrint)
    }

    /// A grounded DiT takes the prompt's objects where the expanded scene starts them: the same network with its
    /// grounding matrix at zero renders other bytes; a DiT whose objects have another feature count is refused.
    @Test func aGroundedModelRendersThePromptsObjects() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-grounded-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (live, zero, odd) = (folder.appendingPathComponent("live"), folder.appendingPathComponent("zero"), folder.appendingPathComponent("odd"))
        try Self.writeDiT(to: live, seed: 9, grounding: ObjectGrounding.featureCount)
        try Self.writeDiT(to: zero, seed: 9, grounding: ObjectGrounding.featureCount, zeroGrounding: true)
        try Self.writeDiT(to: odd, seed: 9, grounding: 5)
        for target in [live, zero, odd] {
            try SafetensorsFile.write(VAE.randomWeights(.tiny), to: target.appendingPathComponent("vae.safetensors").path)
            try JSONEncoder().encode(VAEConfig.tiny).write(to: target.appendingPathComponent("vae.json"))
        }
        #expect {
            try RenderModel(ditFolder: odd, vaeFolder: odd, textEncoder: Self.textEncoder)
        } throws: { "\($0)".contains("grounded objects of 5 features") }
        let settings = RenderSettings(prompt: "a large red ball in the top left", seed: 4, frames: 5, steps: 3, guidance: 2, prototypeOnly: true)
        func prototype(_ model: URL) throws -> Data {
            let loaded = try RenderModel(ditFolder: model, vaeFolder: model, textEncoder: Self.textEncoder)
            let store = try Self.store(model, "objects")
            _ = try VideoRender(model: loaded, artifacts: RenderArtifacts(store: store, job: "1", scratch: model)).run(settings)
            return try Data(contentsOf: model.appendingPathComponent("objects/jobs/1/prototype.mp4"))
        }
        #expect(try prototype(live) != prototype(zero), "the objects reach the network")
    }

    @Test func aMissingModelFileIsNamed() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-empty-\(UUID().uuidString)")
        #expect {
            try RenderModel(ditFolder: folder, vaeFolder: folder, textEncoder: Self.textEncoder)
        } throws: { error in
            "\(error)".contains("dit.json") && "\(error)".contains("missing")
        }
    }

    @Test func framesFollowDurationAndRate() {
        #expect(RenderSettings.frames(duration: 0, fps: 24) == 1)
        #expect(RenderSettings.frames(duration: 5, fps: 24) == 121)
        #expect(RenderSettings.frames(duration: 60, fps: 24) == 1441)
        #expect(RenderSettings.frames(duration: 2, fps: 12) == 25)
    }
}
