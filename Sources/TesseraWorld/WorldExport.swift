// Writes a rendered scene to a folder people (and `tessera eval`) can open (docs/WORLD.md, "Files"):
// frames.rgb + video.json (the raw video), world.json (the scene, its facts and every caption phrasing),
// contact.ppm (nine frames from first to last), and optionally every frame as frame_NNNN.ppm.

import Foundation

/// What `WorldExport.write` wrote; also the content of world.json.
public struct WorldExportReport: Sendable, Codable {
    public var seed: UInt64
    public var prompt: String?
    public var width: Int
    public var height: Int
    public var frames: Int
    public var fps: Double
    public var scene: SceneSpec
    public var facts: CaptionFacts
    /// One caption per phrasing, in `Phrasing` order.
    public var captions: [String]
    /// Files written, relative to the folder.
    public var files: [String]
    /// Seconds spent rendering (not written to world.json's consumers as a contract; it varies per machine).
    public var renderSeconds: Double
}

/// Writes rendered scenes to folders.
public enum WorldExport {
    /// Renders `scene` at `width`×`height` into `folder` (created if needed).
    public static func write(
        _ scene: SceneSpec, width: Int, height: Int, to folder: URL, seed: UInt64, prompt: String? = nil,
        framesAsPPM: Bool = false
    ) throws -> WorldExportReport {
        let start = Date()
        let renderer = SceneRenderer(scene: scene, width: width, height: height)
        let writer = try RawVideoWriter(folder: folder, width: width, height: height, frames: scene.frames, fps: scene.fps)
        let sheetFrames = Set((0..<min(9, scene.frames)).map { k in
            scene.frames == 1 ? 0 : k * (scene.frames - 1) / max(1, min(9, scene.frames) - 1)
        })
        var sheet: [[UInt8]] = []
        var files = ["frames.rgb", "video.json", "world.json", "contact.ppm"]
        for index in 0..<scene.frames {
            let bytes = renderer.frameBytes(index)
            try writer.append(bytes)
            if sheetFrames.contains(index) { sheet.append(bytes) }
            if framesAsPPM {
                let name = String(format: "frame_%04d.ppm", index)
                try PPM.encode(width: width, height: height, pixels: bytes).write(to: folder.appendingPathComponent(name))
                files.append(name)
            }
        }
        try writer.finish()
        let contact = PPM.contactSheet(frames: sheet, width: width, height: height, columns: 3)
        try PPM.encode(width: contact.width, height: contact.height, pixels: contact.pixels)
            .write(to: folder.appendingPathComponent("contact.ppm"))
        let facts = Captioner.facts(scene, trajectory: renderer.trajectory)
        let report = WorldExportReport(
            seed: seed, prompt: prompt, width: width, height: height, frames: scene.frames, fps: scene.fps, scene: scene,
            facts: facts, captions: Captioner.captions(facts), files: files, renderSeconds: Date().timeIntervalSince(start))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(report).write(to: folder.appendingPathComponent("world.json"), options: .atomic)
        return report
    }

    /// Parses "512x288".
    public static func parseSize(_ text: String) -> (width: Int, height: Int)? {
        let parts = text.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0, w <= 8192, h <= 8192 else { return nil }
        return (w, h)
    }
}
