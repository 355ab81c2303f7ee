// A sampling run's resumable state and its on-disk form.
//
// Binary format, version 1. All integers little-endian; no padding.
//
//   offset      size        field
//   0           4           magic "TSMP"
//   4           4           UInt32 format version (1)
//   8           8           UInt64 settings hash (SamplerSettings.fingerprint(tokens:))
//   16          4           UInt32 next step index (0…total)
//   20          4           UInt32 total steps N
//   24          4           UInt32 rank R of the latent (1…8)
//   28          8·R         UInt64 dimensions, outermost first
//   28 + 8R     4·count     Float32 latent values as IEEE-754 bit patterns, row-major
//   end − 8     8           UInt64 FNV-1a 64 of every preceding byte
//
// Raw float bits rather than text, because resuming must be bit-identical; a checksum because a truncated
// or damaged checkpoint must fail loudly instead of resuming from garbage.

import Foundation
import TesseraTensor

/// Where a sampling run stands: the latent, the next step to run and the fingerprint of the settings that
/// produced it. `Sampler.run` continues it; `serialized()` and `init(serialized:)` move it through storage.
public struct SamplerState: Sendable, Equatable {
    /// The latent after `nextStep` steps (`[F, H, W, C]` for video latents, but any shape is carried).
    public var latent: Tensor
    /// Index of the next step to run; equals `totalSteps` when the run is complete.
    public var nextStep: Int
    /// Steps `N` of the full schedule.
    public var totalSteps: Int
    /// `SamplerSettings.fingerprint(tokens:)` of the run; a sampler with another fingerprint refuses it.
    public var settingsHash: UInt64

    /// True when every step has run and `latent` is the clean sample.
    public var isComplete: Bool { nextStep >= totalSteps }

    /// Magic bytes that open a serialized state.
    public static let magic: [UInt8] = Array("TSMP".utf8)
    /// The format version written by `serialized()`.
    public static let formatVersion: UInt32 = 1
    /// Ranks above this are refused on load, so a damaged header cannot ask for absurd allocations.
    public static let maximumRank = 8

    /// A state from its parts (normally made by `Sampler`; public so callbacks can checkpoint).
    public init(latent: Tensor, nextStep: Int, totalSteps: Int, settingsHash: UInt64) {
        self.latent = latent
        self.nextStep = nextStep
        self.totalSteps = totalSteps
        self.settingsHash = settingsHash
    }

    /// The state in the binary format above.
    public func serialized() -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(28 + 8 * latent.rank + 4 * latent.count + 8)
        encode { bytes += $0 }
        return bytes
    }

    /// Writes the state in the binary format above to `url`, a megabyte at a time: a long video's latent is
    /// the largest thing a render holds, and saving it must not hold it twice more.
    public func write(to url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw SamplerError.corruptState("cannot create \(url.path)")
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try encode { try handle.write(contentsOf: $0) }
    }

    /// Reads a state written by `serialized()`; throws `SamplerError.corruptState` saying what is wrong.
    public init<Bytes: Collection>(serialized input: Bytes) throws where Bytes.Element == UInt8 {
        let bytes = Array(input)
        var offset = 0
        try self.init(size: bytes.count) { count in
            defer { offset += count }
            return Array(bytes[offset..<(offset + count)])
        }
    }

    /// Reads a state written by `write(to:)` (or `serialized()`) from a file, a megabyte at a time.
    public init(contentsOf url: URL) throws {
        let size = try (FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue ?? 0
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        try self.init(size: size) { count in
            let data = try handle.read(upToCount: count) ?? Data()
            guard data.count == count else { throw SamplerError.corruptState("\(url.path) ended early") }
            return [UInt8](data)
        }
    }

    /// Latent values per chunk when encoding or decoding (4 MB).
    static let chunkValues = 1 << 20

    /// Emits the binary format in pieces: the header, the latent a chunk at a time, the checksum.
    private func encode(_ emit: ([UInt8]) throws -> Void) rethrows {
        precondition(latent.rank >= 1 && latent.rank <= Self.maximumRank, "latent rank \(latent.rank) outside 1…\(Self.maximumRank)")
        precondition(nextStep >= 0 && nextStep <= Int(UInt32.max) && totalSteps >= 0 && totalSteps <= Int(UInt32.max),
                     "step \(nextStep) of \(totalSteps) does not fit the format")
        var checksum = FNV1a64()
        func send(_ piece: [UInt8]) throws {
            checksum.add(piece)
            try emit(piece)
        }
        var header = [UInt8]()
        header.append(contentsOf: Self.magic)
        append(Self.formatVersion, to: &header)
        append(settingsHash, to: &header)
        append(UInt32(nextStep), to: &header)
        append(UInt32(totalSteps), to: &header)
        append(UInt32(latent.rank), to: &header)
        for dimension in latent.shape { append(UInt64(dimension), to: &header) }
        try send(header)
        for start in stride(from: 0, to: latent.count, by: Self.chunkValues) {
            var piece = [UInt8]()
            piece.reserveCapacity(4 * min(Self.chunkValues, latent.count - start))
            for value in latent.storage[start..<min(start + Self.chunkValues, latent.count)] { append(value.bitPattern, to: &piece) }
            try send(piece)
        }
        var trailer = [UInt8]()
        append(checksum.value, to: &trailer)
        try emit(trailer)
    }

    /// Parses `size` bytes of the binary format that `read(n)` hands over in order, checking the header
    /// against the size before any large allocation and the checksum at the end.
    private init(size: Int, read: (Int) throws -> [UInt8]) throws {
        guard size >= 36 else { throw SamplerError.corruptState("\(size) bytes is shorter than any state") }
        var checksum = FNV1a64()
        func take(_ count: Int) throws -> LittleEndianReader {
            let piece = try read(count)
            checksum.add(piece)
            return LittleEndianReader(bytes: piece, offset: 0)
        }
        var reader = try take(28)
        guard Array(reader.bytes[0..<4]) == Self.magic else { throw SamplerError.corruptState("not a sampler state (bad magic)") }
        reader.offset = 4
        let version: UInt32 = reader.read()
        guard version == Self.formatVersion else {
            throw SamplerError.corruptState("format version \(version), this build reads \(Self.formatVersion)")
        }
        let hash: UInt64 = reader.read()
        let next: UInt32 = reader.read()
        let total: UInt32 = reader.read()
        let rank: UInt32 = reader.read()
        guard rank >= 1 && rank <= Self.maximumRank else { throw SamplerError.corruptState("latent rank \(rank)") }
        guard size >= 28 + 8 * Int(rank) + 8 else { throw SamplerError.corruptState("truncated in the shape") }
        reader = try take(8 * Int(rank))
        var shape = [Int]()
        var count = 1
        for _ in 0..<rank {
            let dimension: UInt64 = reader.read()
            guard dimension <= UInt64(Int32.max) else { throw SamplerError.corruptState("latent dimension \(dimension)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(dimension))
            guard !overflow else { throw SamplerError.corruptState("latent shape overflows") }
            shape.append(Int(dimension))
            count = product
        }
        let expected = 28 + 8 * Int(rank) + 4 * count + 8
        guard size == expected else {
            throw SamplerError.corruptState("\(size) bytes, the header of shape \(shape) needs \(expected)")
        }
        var storage = [Float]()
        storage.reserveCapacity(count)
        for start in stride(from: 0, to: count, by: Self.chunkValues) {
            var piece = try take(4 * min(Self.chunkValues, count - start))
            while piece.offset < piece.bytes.count { storage.append(Float(bitPattern: piece.read())) }
        }
        let computed = checksum.value
        var trailer = LittleEndianReader(bytes: try read(8), offset: 0)
        guard trailer.read() == computed else { throw SamplerError.corruptState("checksum mismatch") }
        guard next <= total else { throw SamplerError.corruptState("next step \(next) beyond total \(total)") }
        self.init(latent: Tensor(shape: shape, storage: storage), nextStep: Int(next), totalSteps: Int(total), settingsHash: hash)
    }
}

private func append<T: FixedWidthInteger & UnsignedInteger>(_ value: T, to bytes: inout [UInt8]) {
    var v = value
    for _ in 0..<(T.bitWidth / 8) {
        bytes.append(UInt8(truncatingIfNeeded: v))
        v >>= 8
    }
}

/// Sequential little-endian reads of one piece; the caller checks the piece holds what it reads.
private struct LittleEndianReader {
    let bytes: [UInt8]
    var offset: Int

    mutating func read<T: FixedWidthInteger & UnsignedInteger>() -> T {
        var value: T = 0
        for i in 0..<(T.bitWidth / 8) {
            value |= T(bytes[offset + i]) << (8 * i)
        }
        offset += T.bitWidth / 8
        return value
    }
}
