import Foundation
import TesseraMedia
import TesseraTensor
import TesseraWorld

/// A folder of the user's own videos to train on (`tessera train vae|dit --data FOLDER`): every file with a
/// video extension, decoded with libavformat, and for the DiT a caption in `NAME.txt` beside each one.
/// The whole folder is checked before training starts — a file libav cannot open, a missing or empty caption,
/// an empty folder are errors that name the file — so a bad folder changes nothing.
///
/// A clip is a run of consecutive frames at 24 fps from a random start, scaled to cover its aspect bucket
/// (512x288, 288x512 or 288x288, whichever is nearest the video's shape) and centre-cropped, as the world's
/// clips are rendered; a draw is a function of (seed, step, index) only, so resumed runs see the same data.
struct VideoFolder {
    static let extensions: Set<String> = ["mp4", "mov", "m4v", "mkv", "webm", "avi", "gif"]
    static let rate: FrameRate = 24

    struct Entry {
        var video: URL
        var caption: String?
        var bucket: AspectBucket
        /// Frames at 24 fps, from the container's duration (a lower bound is enough: a short read is trimmed).
        var frames: Int
    }

    let entries: [Entry]

    init(path: String, captions: Bool) throws {
        let folder = URL(fileURLWithPath: path)
        guard isDirectory(folder) else { throw CLIError("--data \(path) is not a folder") }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        var entries: [Entry] = []
        for name in names where Self.extensions.contains((name as NSString).pathExtension.lowercased()) {
            let video = folder.appendingPathComponent(name)
            let info: VideoInfo
            do {
                info = try VideoReader(url: video).info
            } catch {
                throw CLIError("--data: \(video.path) is not a video libavformat can read: \(error)")
            }
            var caption: String?
            if captions {
                let file = video.deletingPathExtension().appendingPathExtension("txt")
                guard let data = FileManager.default.contents(atPath: file.path) else {
                    throw CLIError("--data: \(video.path) has no caption; write it in \(file.path)")
                }
                let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                guard !text.isEmpty else { throw CLIError("--data: the caption \(file.path) is empty") }
                caption = text
            }
            let aspect = Double(info.width) / Double(max(info.height, 1))
            let bucket: AspectBucket = aspect > 1.25 ? .landscape : aspect < 0.8 ? .portrait : .square
            let seconds = info.duration ?? info.frameCount.map { Double($0) / (info.frameRate?.framesPerSecond ?? 24) } ?? 0
            entries.append(Entry(video: video, caption: caption, bucket: bucket, frames: max(1, Int(seconds * 24))))
        }
        guard !entries.isEmpty else {
            throw CLIError("--data \(path) holds no videos (\(Self.extensions.sorted().joined(separator: ", ")))")
        }
        self.entries = entries
    }

    /// Uniform draws in [0, 1) for a key.
    static func uniforms(_ key: UInt64, count: Int) -> [Double] {
        NoiseGenerator(seed: key, stream: 43).fill(count).map { 0.5 * (1 + erf(Double($0) / 2.0.squareRoot())) }
    }

    /// A clip `[F, H, W, 3]` in [−1, 1] of one of the videos, with its caption: `frames` frames (fewer, as
    /// 1 + 4k, when the video is shorter), at the bucket size for `shortSide`.
    func clip(key: UInt64, frames wanted: Int, shortSide: Int = 288) throws -> (video: Tensor, caption: String) {
        let u = Self.uniforms(key, count: 2)
        let entry = entries[min(entries.count - 1, Int(u[0] * Double(entries.count)))]
        let (width, height) = entry.bucket.size(shortSide: shortSide)
        let start = min(max(0, entry.frames - wanted), Int(u[1] * Double(max(0, entry.frames - wanted) + 1)))
        let reader = try VideoReader(url: entry.video, width: width, height: height, frameRate: Self.rate, resize: .fill, threads: 1)
        var values: [Float] = []
        var index = 0, kept = 0
        while kept < wanted, let frame = try reader.nextFrame() {
            defer { index += 1 }
            guard index >= start else { continue }
            values += frame.signedPixels
            kept += 1
        }
        guard kept > 0 else { throw CLIError("\(entry.video.path) gave no frames from frame \(start)") }
        let count = 1 + (kept - 1) / 4 * 4  // the VAE takes 1 + 4k frames
        values.removeLast((kept - count) * width * height * 3)
        return (Tensor(shape: [count, height, width, 3], storage: values), entry.caption ?? "")
    }

    /// A random square crop `[F, side, side, 3]` of a clip, as `WorldClips.crop` takes from world renders.
    func crop(key: UInt64, frames: Int, side: Int) throws -> Tensor {
        let (video, _) = try clip(key: key, frames: frames)
        let (count, height, width) = (video.shape[0], video.shape[1], video.shape[2])
        let u = Self.uniforms(key &+ 1, count: 2)
        let x0 = min(width - side, Int(u[0] * Double(width - side + 1))), y0 = min(height - side, Int(u[1] * Double(height - side + 1)))
        var out = [Float](repeating: 0, count: count * side * side * 3)
        for f in 0..<count {
            for y in 0..<side {
                let source = ((f * height + y0 + y) * width + x0) * 3, target = (f * side + y) * side * 3
                for j in 0..<(side * 3) { out[target + j] = video.storage[source + j] }
            }
        }
        return Tensor(shape: [count, side, side, 3], storage: out)
    }
}
