import Foundation
import Testing
@testable import TesseraFarm

@Suite struct TextEncoderConfigurationTests {
    @Test func theTextEncoderFolderComesFromTheEnvironmentOrTheDefault() {
        #expect(Configuration.fromEnvironment(["TESSERA_TEXT_ENCODER": "/opt/minilm"]).textEncoder.path == "/opt/minilm")
        let fallback = Configuration.fromEnvironment(["TESSERA_TEXT_ENCODER": ""]).textEncoder
        #expect(fallback == URL(fileURLWithPath: "models/all-MiniLM-L6-v2"))
        #expect(Configuration.fromEnvironment([:]).textEncoder == fallback)
    }
}
