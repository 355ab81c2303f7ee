import Foundation
import Testing

@testable import TesseraStorage

@Suite struct S3ConfigurationTests {
    let credentials = try! S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")

    func configuration(_ endpoint: String, addressing: S3Configuration.Addressing = .path) throws -> S3Configuration {
        try S3Configuration(endpoint: URL(string: endpoint)!, region: "eu-west-1", bucket: "renders", addressing: addressing, credentials: credentials)
    }

    @Test func pathStyleURLs() throws {
        let config = try configuration("http://127.0.0.1:8333")
        let key = try ObjectKey("batch 7/日本/job+1.mp4")
        #expect(config.url(key: key) == "http://127.0.0.1:8333/renders/batch%207/%E6%97%A5%E6%9C%AC/job%2B1.mp4")
        #expect(config.url(key: nil) == "http://127.0.0.1:8333/renders")
        #expect(try configuration("https://example.com/s3/").url(key: key).hasPrefix("https://example.com/s3/renders/batch%207/"))
    }

    @Test func virtualHostURLs() throws {
        let config = try configuration("https://s3.eu-west-1.amazonaws.com", addressing: .virtualHost)
        #expect(config.url(key: try ObjectKey("a b.mp4")) == "https://renders.s3.eu-west-1.amazonaws.com/a%20b.mp4")
        #expect(config.url(key: nil, query: [("list-type", "2")]) == "https://renders.s3.eu-west-1.amazonaws.com/?list-type=2")
    }

    @Test func queriesAreEncodedAndSortedForSigV4() throws {
        let config = try configuration("http://h:1")
        let key = try ObjectKey("k")
        #expect(config.url(key: key, query: [("uploadId", "a/b+c"), ("partNumber", "3")]) == "http://h:1/renders/k?partNumber=3&uploadId=a%2Fb%2Bc")
        // `?uploads` alone is signed differently by libcurl 7.88: always `name=`.
        #expect(config.url(key: key, query: [("uploads", "")]) == "http://h:1/renders/k?uploads=")
        #expect(S3Configuration.canonicalQuery([("prefix", "a b/ü"), ("list-type", "2"), ("encoding-type", "url")])
            == "encoding-type=url&list-type=2&prefix=a%20b%2F%C3%BC")
    }

    @Test(arguments: ["ftp://host", "http://", "http://user:pass@host", "http://host?x=1", "host:8333"])
    func badEndpointsAreRejected(_ endpoint: String) {
        #expect(throws: StorageError.self) { _ = try configuration(endpoint) }
    }

    @Test(arguments: ["ab", "Upper", "under_score", "-dash", "dot.", "a..b", String(repeating: "a", count: 64)])
    func badBucketsAreRejected(_ bucket: String) {
        #expect(throws: StorageError.self) {
            _ = try S3Configuration(endpoint: URL(string: "http://h")!, bucket: bucket, credentials: credentials)
        }
    }

    @Test func partsAreAtLeastFiveMiB() {
        #expect(throws: StorageError.self) {
            _ = try S3Configuration(endpoint: URL(string: "http://h")!, bucket: "b-1", credentials: credentials, partSize: 1 << 20)
        }
    }

    @Test func secretNeverAppearsInDescriptions() throws {
        let secret = credentials.secretAccessKey
        let config = try configuration("http://127.0.0.1:8333")
        var dumped = ""
        dump(config, to: &dumped)
        for text in ["\(credentials)", String(reflecting: credentials), "\(config)", String(reflecting: config), dumped] {
            #expect(!text.contains(secret), "\(text)")
        }
        #expect("\(credentials)".contains("AKIDEXAMPLE"))
    }

    @Test func credentialsFileProfiles() throws {
        let file = """
            # comment
            [default]
            aws_access_key_id = AKIDDEFAULT
            aws_secret_access_key = secret/default+1

            [render farm]
            ; other comment
            AWS_ACCESS_KEY_ID=AKIDFARM
            aws_secret_access_key=s3cr3t=with=equals
            """
        #expect(try S3Credentials.fromCredentialsFile(file).accessKeyID == "AKIDDEFAULT")
        #expect(try S3Credentials.fromCredentialsFile(file).secretAccessKey == "secret/default+1")
        let farm = try S3Credentials.fromCredentialsFile(file, profile: "render farm")
        #expect(farm.accessKeyID == "AKIDFARM" && farm.secretAccessKey == "s3cr3t=with=equals")
        #expect {
            _ = try S3Credentials.fromCredentialsFile(file, profile: "missing", path: "/etc/creds")
        } throws: { error in
            "\(error)".contains("/etc/creds") && "\(error)".contains("[missing]") && !"\(error)".contains("s3cr3t")
        }
    }

    @Test func scrubRemovesSecretsFromServerText() {
        let text = StorageError.scrub("signature for wJalr/abc was wrong: wJalr/abc", secrets: ["wJalr/abc", ""])
        #expect(text == "signature for [redacted] was wrong: [redacted]")
    }
}

@Suite struct S3XMLTests {
    @Test func extractsElementsAndDecodesEntities() {
        let xml = """
            <?xml version="1.0"?><ListBucketResult xmlns="x"><Name>b</Name><IsTruncated>false</IsTruncated>\
            <Contents><Key>a%20b</Key><ETag>&#34;abc&#34;</ETag><Size>10</Size></Contents>\
            <Contents><Key>c&amp;d &lt;e&gt; &#x1F3AC;</Key><Size>0</Size><Owner/></Contents><KeyCount>2</KeyCount></ListBucketResult>
            """
        let contents = S3XML.elements("Contents", in: xml[...])
        #expect(contents.count == 2)
        #expect(S3XML.value("Key", in: contents[0]) == "a%20b")
        #expect(S3XML.value("ETag", in: contents[0]) == "\"abc\"")
        #expect(S3XML.value("Key", in: contents[1]) == "c&d <e> 🎬")
        #expect(S3XML.value("Owner", in: contents[1]) == "")
        #expect(S3XML.value("Key", in: xml) == "a%20b")
        #expect(S3XML.value("KeyCount", in: xml) == "2")
        #expect(S3XML.value("Missing", in: xml) == nil)
        // <Name> must not match <NameX>.
        #expect(S3XML.value("Name", in: "<NameX>no</NameX><Name>yes</Name>") == "yes")
        #expect(S3XML.decode("broken & text") == "broken & text")
        #expect(S3XML.decode("a &unknown; b") == "a &unknown; b")
    }
}
