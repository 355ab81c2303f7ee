import Foundation

/// Why a safetensors file or a weight set was refused. Names the file and the tensors.
public enum SafetensorsError: Error, CustomStringConvertible, Sendable {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case missingTensor(path: String, name: String)
    case unsupportedType(path: String, name: String, dtype: String)
    case mismatch(path: String, missing: [String], extra: [String], misshaped: [String])

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
        case .malformed(let path, let reason): return "\(path) is not a valid safetensors file: \(reason)"
        case .missingTensor(let path, let name): return "\(path) has no tensor \(name)"
        case .unsupportedType(let path, let name, let dtype): return "\(path): tensor \(name) has unsupported type \(dtype) (F32, F16 and BF16 are read)"
        case .mismatch(let path, let missing, let extra, let misshaped):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.joined(separator: ", "))") }
            if !extra.isEmpty { parts.append("unexpected \(extra.joined(separator: ", "))") }
            if !misshaped.isEmpty { parts.append("wrong shape \(misshaped.joined(separator: "; "))") }
            return "\(path) does not match the model: " + parts.joined(separator: "; ")
        }
    }
}

/// A safetensors file, memory-mapped: the header is parsed at open, tensors are converted to Float32 on
/// request, and the mapping is released with the object.
public final class SafetensorsFile: @unchecked Sendable {
    /// One entry of the header.
    public struct Entry: Sendable {
        public let dtype: String
        public let shape: [Int]
        let begin: Int
        let end: Int
    }

    public let path: String
    public let entries: [String: Entry]
    /// The `__metadata__` strings.
    public let metadata: [String: String]
    let base: UnsafeRawPointer
    private let length: Int
    let dataStart: Int

    public init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SafetensorsError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw SafetensorsError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        length = Int(info.st_size)
        guard length >= 8 else { throw SafetensorsError.malformed(path: path, reason: "only \(length) bytes") }
        guard let mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE, descriptor, 0), mapped != MAP_FAILED else {
            throw SafetensorsError.unreadable(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapped)
        do {
            let headerLength = Int(base.loadUnaligned(as: UInt64.self).littleEndian)
            guard headerLength > 0, 8 + headerLength <= length else {
                throw SafetensorsError.malformed(path: path, reason: "header length \(headerLength) past the end of the file")
            }
            dataStart = 8 + headerLength
            let header = Data(bytes: base + 8, count: headerLength)
            guard let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
                throw SafetensorsError.malformed(path: path, reason: "the header is not a JSON object")
            }
            var entries: [String: Entry] = [:]
            var metadata: [String: String] = [:]
            for (name, value) in object {
                if name == "__metadata__" {
                    metadata = (value as? [String: String]) ?? [:]
                    continue
                }
                guard let fields = value as? [String: Any], let dtype = fields["dtype"] as? String,
                    let shape = fields["shape"] as? [Int], let offsets = fields["data_offsets"] as? [Int], offsets.count == 2
                else { throw SafetensorsError.malformed(path: path, reason: "bad header entry \(name)") }
                let entry = Entry(dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
                guard entry.begin >= 0, entry.end >= entry.begin, dataStart + entry.end <= length else {
                    throw SafetensorsError.malformed(path: path, reason: "tensor \(name) lies outside the file")
                }
                let width = ["F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4][dtype] ?? 0
                if width > 0, entry.end - entry.begin != shape.reduce(1, *) * width {
                    throw SafetensorsError.malformed(path: path, reason: "tensor \(name) has \(entry.end - entry.begin) bytes for shape \(shape) of \(dtype)")
                }
                entries[name] = entry
            }
            self.entries = entries
            self.metadata = metadata
        } catch {
            munmap(UnsafeMutableRawPointer(mutating: base), length)
            throw error
        }
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), length)
    }

    /// Every tensor of a file that must hold exactly `expected` (names and shapes), converted to Float32: how
    /// a model loads its weights.
    public static func weights(at path: String, expected: [String: [Int]]) throws -> [String: Tensor] {
        let file = try SafetensorsFile(path: path)
        try file.check(expected: expected)
        var weights: [String: Tensor] = [:]
        for name in file.names { weights[name] = try file.tensor(name) }
        return weights
    }

    /// Every tensor of a file that must hold exactly `expected`, each kept in its stored precision: Float32
    /// as is, float16 as its 16-bit patterns (half the memory; `WeightSet` widens a weight when a layer asks
    /// for it). BF16 is widened at load.
    public static func weightSet(at path: String, expected: [String: [Int]]) throws -> WeightSet {
        let file = try SafetensorsFile(path: path)
        try file.check(expected: expected)
        var stored: [String: WeightSet.Stored] = [:]
        for name in file.names {
            let entry = file.entries[name]!
            if entry.dtype == "F16" {
                let count = entry.shape.reduce(1, *)
                let source = file.base + file.dataStart + entry.begin
                let bits = [UInt16](unsafeUninitializedCapacity: count) { out, initialized in
                    for i in 0..<count { out[i] = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
                    initialized = count
                }
                file.release(entry)
                stored[name] = .float16(shape: entry.shape, bits: bits)
            } else {
                stored[name] = .float32(try file.tensor(name))
            }
        }
        return WeightSet(stored: stored)
    }

    /// Tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// A tensor converted to Float32.
    public func tensor(_ name: String) throws -> Tensor {
        guard let entry = entries[name] else { throw SafetensorsError.missingTensor(path: path, name: name) }
        let count = entry.shape.reduce(1, *)
        let source = base + dataStart + entry.begin
        var values = Tensor(uninitialized: [count]).storage
        switch entry.dtype {
        case "F32":
            values.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: source, count: count * 4)) }
        case "F16":
            for i in 0..<count { values[i] = Float(Float16(bitPattern: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case "BF16":
            for i in 0..<count {
                values[i] = Float(bitPattern: UInt32(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
            }
        default:
            throw SafetensorsError.unsupportedType(path: path, name: name, dtype: entry.dtype)
        }
        release(entry)
        return Tensor(shape: entry.shape, storage: values)
    }

    /// Once a tensor is copied out, lets the kernel drop its mapped pages so the file is not counted twice
    /// in RSS.
    func release(_ entry: Entry) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (dataStart + entry.begin) / page * page, last = dataStart + entry.end
        madvise(UnsafeMutableRawPointer(mutating: base + first), last - first, MADV_DONTNEED)
    }

    /// Checks the file holds exactly the expected tensors with the expected shapes; the error lists every
    /// missing, extra and mis-shaped name.
    public func check(expected: [String: [Int]]) throws {
        try Self.check(actual: entries.mapValues(\.shape), expected: expected, path: path)
    }

    /// Compares tensor shapes by name; the error lists every missing, extra and mis-shaped name.
    public static func check(actual: [String: [Int]], expected: [String: [Int]], path: String) throws {
        let missing = expected.keys.filter { actual[$0] == nil }.sorted()
        let extra = actual.keys.filter { expected[$0] == nil }.sorted()
        let misshaped = expected.compactMap { name, shape -> String? in
            guard let found = actual[name], found != shape else { return nil }
            return "\(name) is \(found), expected \(shape)"
        }.sorted()
        if !missing.isEmpty || !extra.isEmpty || !misshaped.isEmpty {
            throw SafetensorsError.mismatch(path: path, missing: missing, extra: extra, misshaped: misshaped)
        }
    }

    /// Writes tensors and metadata as a safetensors file (Float32, or float16 with `halfPrecision`, which the
    /// loader converts back); written to a temporary name and renamed, so a reader never sees half a file.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String, halfPrecision: Bool = false) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        let width = halfPrecision ? 2 : 4
        for name in names {
            let tensor = tensors[name]!
            header[name] = ["dtype": halfPrecision ? "F16" : "F32", "shape": tensor.shape, "data_offsets": [offset, offset + tensor.count * width]]
            offset += tensor.count * width
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var data = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(json)
        for name in names {
            if halfPrecision {
                // IEEE binary16, round to nearest even (shipped weights: half the size).
                let half = tensors[name]!.storage.map { Float16($0).bitPattern.littleEndian }
                half.withUnsafeBytes { data.append(contentsOf: $0) }
            } else {
                tensors[name]!.storage.withUnsafeBytes { data.append(contentsOf: $0) }
            }
        }
        let temporary = path + ".partial-\(getpid())"
        do {
            try data.write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else {
                throw SafetensorsError.unreadable(path: path, reason: "rename failed: \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            throw error
        }
    }
}
