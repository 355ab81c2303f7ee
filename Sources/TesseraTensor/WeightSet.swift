/// A model's weights, each held in the precision it was stored in: Float32 as a `Tensor`, float16 as its
/// 16-bit patterns, converted to Float32 each time a layer asks for it.
///
/// The shipped models are float16 files (`train export`); holding them as loaded halves the resident
/// weights, and converting one matrix before its product costs about 1% of a DiT forward (the conversion
/// reads each weight once, the product reuses it for every token). The values a layer sees are exactly
/// those a Float32 copy of the file would hold — a float16 widens to Float32 without rounding — so
/// results are bit-identical either way.
public struct WeightSet: Sendable {
    enum Stored: Sendable {
        case float32(Tensor)
        case float16(shape: [Int], bits: [UInt16])
    }

    var stored: [String: Stored]

    /// Float32 weights, as they are.
    public init(_ tensors: [String: Tensor]) {
        stored = tensors.mapValues { .float32($0) }
    }

    init(stored: [String: Stored]) {
        self.stored = stored
    }

    /// The weight as Float32 (converted from float16 when stored so), or nil when there is none.
    public subscript(name: String) -> Tensor? {
        switch stored[name] {
        case .none: return nil
        case .float32(let tensor): return tensor
        case .float16(let shape, let bits): return Tensor(shape: shape, storage: Self.widen(bits))
        }
    }

    /// Names and shapes, for checks against a config.
    public var shapes: [String: [Int]] {
        stored.mapValues {
            switch $0 {
            case .float32(let tensor): return tensor.shape
            case .float16(let shape, _): return shape
            }
        }
    }

    /// Bytes the weights hold.
    public var byteCount: Int {
        stored.values.reduce(0) {
            switch $1 {
            case .float32(let tensor): return $0 + 4 * tensor.count
            case .float16(_, let bits): return $0 + 2 * bits.count
            }
        }
    }

    /// Every weight as Float32.
    public var tensors: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: stored.keys.map { ($0, self[$0]!) })
    }

    /// float16 patterns to Float32 (F16C's `vcvtph2ps`, eight at a time, where the build targets it).
    static func widen(_ bits: [UInt16]) -> [Float] {
        [Float](unsafeUninitializedCapacity: bits.count) { out, initialized in
            bits.withUnsafeBufferPointer { source in
                for i in 0..<source.count { out[i] = Float(Float16(bitPattern: source[i])) }
            }
            initialized = bits.count
        }
    }
}
