import Foundation
import Synchronization
import TesseraModels
import TesseraSampling

/// The networks a render needs, loaded once per process: the DiT and VAE (each a JSON config beside
/// safetensors weights), the latent scale the DiT was trained with, and the text encoder.
public final class RenderModel: Sendable {
    public let dit: DiT
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
    /// vae.json and vae.safetensors. A missing file is an error that names it.
    public init(ditFolder: URL, vaeFolder: URL, textEncoder: URL) throws {
        func file(_ folder: URL, _ name: String) throws -> String {
            let path = folder.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else { throw RenderError("model file \(path) is missing", retryable: false) }
            return path
        }
        let files = try [(ditFolder, "dit.json"), (ditFolder, "dit.safetensors"), (ditFolder, "model.json"), (vaeFolder, "vae.json"), (vaeFolder, "vae.safetensors")]
            .map { try file($0.0, $0.1) }
        dit = try DiT(configPath: files[0], weightsPath: files[1])
        vae = try VAE(configPath: files[3], weightsPath: files[4])
        struct Bundle: Decodable { var latentScale: Float }
        latentScale = try JSONDecoder().decode(Bundle.self, from: Data(contentsOf: URL(fileURLWithPath: files[2]))).latentScale
        guard vae.config.latentChannels == dit.config.latentChannels else {
            throw RenderError("the VAE makes \(vae.config.latentChannels) latent channels but the DiT takes \(dit.config.latentChannels)", retryable: false)
        }
        var fingerprint = FNV1a64()
        for path in files {
            try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped).withUnsafeBytes { fingerprint.add($0) }
        }
        hash = fingerprint.hex
        self.textEncoder = try TextEncoder(modelFolder: textEncoder)
        emptyCaption = try self.textEncoder.encode("").caption
    }

    /// Encodes a caption (counted: a job encodes its prompt once).
    public func encode(_ caption: String) throws -> Caption {
        encodings.wrappingAdd(1, ordering: .relaxed)
        return try textEncoder.encode(caption).caption
    }

    /// How many captions `encode` has encoded in this process (the empty caption not counted).
    public var captionsEncoded: Int { encodings.load(ordering: .relaxed) }
}
