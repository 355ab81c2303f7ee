import Foundation
import Synchronization
import TesseraModels
import TesseraSampling
import TesseraWorld

/// The networks a render needs, loaded once per process: the DiT and VAE (each a JSON config beside
/// safetensors weights), the latent scale the DiT was trained with, and the text encoder.
public final class RenderModel: Sendable {
    public let dit: DiT
    /// A weaker DiT trained like `dit` on the same latents, for autoguidance (`RenderSettings.autoguidance`);
    /// nil when none was loaded.
    public let guide: DiT?
    public let vae: VAE
    public let latentScale: Float
    public let textEncoder: TextEncoder
    /// 16 hex digits fingerprinting every model file (FNV-1a over their bytes): in each video's metadata and
    /// job result, and part of the key of a saved prototype, so a changed model never reuses old work.
    public let hash: String
    /// The empty caption's encoding (the unconditional branch of guidance), made once.
    public let emptyCaption: Caption
    private let encodings = Atomic<Int>(0)

    /// `ditFolder` holds dit.json, dit.safetensors and model.json (the latent scale); `vaeFolder` holds
    /// vae.json and vae.safetensors; `guideFolder`, when given, a guiding DiT's three files, whose latent
    /// scale must be the DiT's (it reads the same latents). A missing file is an error that names it.
    public init(ditFolder: URL, vaeFolder: URL, textEncoder: URL, guideFolder: URL? = nil) throws {
        func file(_ folder: URL, _ name: String) throws -> String {
            let path = folder.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else { throw RenderError("model file \(path) is missing", retryable: false) }
            return path
        }
        var files = try [(ditFolder, "dit.json"), (ditFolder, "dit.safetensors"), (ditFolder, "model.json"), (vaeFolder, "vae.json"), (vaeFolder, "vae.safetensors")]
            .map { try file($0.0, $0.1) }
        dit = try DiT(configPath: files[0], weightsPath: files[1])
        vae = try VAE(configPath: files[3], weightsPath: files[4])
        struct Bundle: Decodable { var latentScale: Float }
        func scale(_ path: String) throws -> Float {
            try JSONDecoder().decode(Bundle.self, from: Data(contentsOf: URL(fileURLWithPath: path))).latentScale
        }
        latentScale = try scale(files[2])
        try Self.checkGrounding(dit, ditFolder)
        guard vae.config.latentChannels == dit.config.latentChannels else {
            throw RenderError("the VAE makes \(vae.config.latentChannels) latent channels but the DiT takes \(dit.config.latentChannels)", retryable: false)
        }
        if let guideFolder {
            let guideFiles = try ["dit.json", "dit.safetensors", "model.json"].map { try file(guideFolder, $0) }
            let guide = try DiT(configPath: guideFiles[0], weightsPath: guideFiles[1])
            let guideScale = try scale(guideFiles[2])
            try Self.checkGrounding(guide, guideFolder)
            guard guide.config.latentChannels == dit.config.latentChannels, guide.config.textWidth == dit.config.textWidth else {
                throw RenderError("the guide in \(guideFolder.path) takes \(guide.config.latentChannels) latent channels and captions \(guide.config.textWidth) wide; the DiT \(dit.config.latentChannels) and \(dit.config.textWidth)", retryable: false)
            }
            guard guideScale == latentScale else {
                throw RenderError("the guide in \(guideFolder.path) was trained on latents scaled by \(guideScale), the DiT on \(latentScale): a guide must read the DiT's latents", retryable: false)
            }
            self.guide = guide
            files += guideFiles
        } else {
            guide = nil
        }
        var fingerprint = FNV1a64()
        for path in files {
            try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped).withUnsafeBytes { fingerprint.add($0) }
        }
        hash = fingerprint.hex
        self.textEncoder = try TextEncoder(modelFolder: textEncoder)
        emptyCaption = try self.textEncoder.encode("").caption
    }

    /// A DiT that takes grounded objects must take the world's features (`ObjectGrounding.featureCount`).
    static func checkGrounding(_ dit: DiT, _ folder: URL) throws {
        if let features = dit.config.grounding, features != ObjectGrounding.featureCount {
            throw RenderError("the DiT in \(folder.path) takes grounded objects of \(features) features; this build's world describes an object by \(ObjectGrounding.featureCount)", retryable: false)
        }
    }

    /// Encodes a caption (counted: a job encodes its prompt once).
    public func encode(_ caption: String) throws -> Caption {
        encodings.wrappingAdd(1, ordering: .relaxed)
        return try textEncoder.encode(caption).caption
    }

    /// How many captions `encode` has encoded in this process (the empty caption not counted).
    public var captionsEncoded: Int { encodings.load(ordering: .relaxed) }
}
