import Foundation
import Testing
import TesseraFarm
import TesseraStorage

@Suite struct ObjectStorageSettingsTests {
    func configuration(_ environment: [String: String]) -> Configuration {
        Configuration.fromEnvironment(["TESSERA_HOME": "/srv/tessera"].merging(environment) { $1 })
    }

    @Test func withoutAnEndpointObjectsGoToTheHomeFolder() throws {
        let settings = configuration([:]).objectStorage
        #expect(settings.endpoint == nil)
        let store = try #require(try settings.makeStore() as? LocalStore)
        #expect(store.root.path == "/srv/tessera/objects")
    }

    @Test func anEndpointWithKeysFromTheEnvironmentMakesAnS3Store() throws {
        let settings = configuration([
            "TESSERA_S3_ENDPOINT": "https://s3.eu-west-1.amazonaws.com", "TESSERA_S3_BUCKET": "renders", "TESSERA_S3_REGION": "eu-west-1",
            "TESSERA_S3_ADDRESSING": "virtual-host", "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret-123",
        ]).objectStorage
        let store = try #require(try settings.makeStore() as? S3Store)
        #expect(store.configuration.region == "eu-west-1" && store.configuration.addressing == .virtualHost)
        #expect(store.configuration.credentials.accessKeyID == "AKIDENV")
        #expect(store.url(for: try ObjectKey("a b.mp4")).absoluteString == "https://renders.s3.eu-west-1.amazonaws.com/a%20b.mp4")
        var dumped = ""
        dump(settings, to: &dumped)
        for text in ["\(settings)", String(reflecting: settings), dumped] { #expect(!text.contains("env-secret-123"), "\(text)") }
    }

    @Test func aCredentialsFileWinsOverTheVariables() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-creds-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try "[farm]\naws_access_key_id = AKIDFILE\naws_secret_access_key = file-secret\n".write(to: file, atomically: true, encoding: .utf8)
        let settings = configuration([
            "TESSERA_S3_ENDPOINT": "http://127.0.0.1:8333", "TESSERA_S3_BUCKET": "renders", "AWS_ACCESS_KEY_ID": "AKIDENV",
            "AWS_SECRET_ACCESS_KEY": "env-secret", "TESSERA_S3_CREDENTIALS_FILE": file.path, "AWS_PROFILE": "farm",
        ]).objectStorage
        #expect(try settings.credentials().accessKeyID == "AKIDFILE")
        #expect(try settings.credentials().secretAccessKey == "file-secret")
    }

    @Test(arguments: [
        (["TESSERA_S3_ENDPOINT": "http://h:1", "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "s"], "TESSERA_S3_BUCKET"),
        (["TESSERA_S3_ENDPOINT": "http://h:1", "TESSERA_S3_BUCKET": "renders"], "AWS_ACCESS_KEY_ID"),
        (["TESSERA_S3_ENDPOINT": "http://h:1", "TESSERA_S3_BUCKET": "renders", "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "s",
          "TESSERA_S3_ADDRESSING": "sideways"], "TESSERA_S3_ADDRESSING"),
        (["TESSERA_S3_ENDPOINT": "http://h:1", "TESSERA_S3_BUCKET": "renders", "TESSERA_S3_CREDENTIALS_FILE": "/nonexistent/creds"],
         "TESSERA_S3_CREDENTIALS_FILE"),
    ])
    func incompleteSettingsNameTheVariableToFix(_ environment: [String: String], _ variable: String) {
        #expect {
            _ = try configuration(environment).objectStorage.makeStore()
        } throws: { error in
            "\(error)".contains(variable)
        }
    }
}
