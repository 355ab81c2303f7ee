import Foundation
@testable import TesseraModels
@testable import TesseraTensor

/// The real all-MiniLM-L6-v2, found through TESSERA_TEXT_ENCODER (ops/test.sh sets it) or at
/// models/all-MiniLM-L6-v2 in the package. Tests that need it are skipped when it is absent, except under
/// CI=true, where they run and fail with the loader's install message.
enum InstalledTextEncoder {
    static let environment = ProcessInfo.processInfo.environment
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static let folder: URL = {
        if let path = environment["TESSERA_TEXT_ENCODER"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return packageRoot.appendingPathComponent("models/all-MiniLM-L6-v2")
    }()

    static var isInstalled: Bool {
        ["config.json", "vocab.txt", "model.safetensors"].allSatisfy {
            FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path)
        }
    }

    /// Run the tests that need the model: it is here, or CI demands it.
    static var shouldRun: Bool { isInstalled || environment["CI"] == "true" }

    /// Loaded once for every test that needs it.
    static let loaded: Result<TextEncoder, any Error> = Result { try TextEncoder(modelFolder: folder) }

    static func encoder() throws -> TextEncoder { try loaded.get() }
}

enum MiniLMGolden {
    static let folder = Golden.folder.appendingPathComponent("minilm")

    static func corpus() throws -> [String] {
        try JSONDecoder().decode([String].self, from: Data(contentsOf: folder.appendingPathComponent("corpus.json")))
    }

    struct Record: Decodable {
        var ids: [Int]
        var pieces: [String]
        var truncated: Bool
    }

    static func tokens() throws -> [Record] {
        try JSONDecoder().decode([Record].self, from: Data(contentsOf: folder.appendingPathComponent("tokens.json")))
    }
}

/// Row-by-row agreement of two `[L, E]` tensors: the smallest cosine and the largest absolute difference.
struct RowAgreement: CustomStringConvertible {
    var minCosine: Double
    var maxAbs: Float

    init(_ actual: Tensor, _ expected: Tensor) {
        precondition(actual.shape == expected.shape, "shapes \(actual.shape) vs \(expected.shape)")
        let d = expected.shape.last ?? 1
        minCosine = 1
        maxAbs = 0
        for row in 0..<(expected.count / d) {
            var dot = 0.0, aa = 0.0, ee = 0.0
            for c in 0..<d {
                let a = Double(actual.storage[row * d + c]), e = Double(expected.storage[row * d + c])
                dot += a * e
                aa += a * a
                ee += e * e
                maxAbs = max(maxAbs, Float(abs(a - e)))
            }
            minCosine = min(minCosine, dot / max((aa * ee).squareRoot(), 1e-30))
        }
    }

    func within(cosine: Double, abs: Float) -> Bool { minCosine >= cosine && maxAbs <= abs }

    var description: String { "min cosine \(minCosine), max |Δ| \(maxAbs)" }
}

func cosine(_ a: Tensor, _ b: Tensor) -> Double {
    var dot = 0.0, aa = 0.0, bb = 0.0
    for (x, y) in zip(a.storage, b.storage) {
        dot += Double(x) * Double(y)
        aa += Double(x) * Double(x)
        bb += Double(y) * Double(y)
    }
    return dot / (aa * bb).squareRoot()
}
