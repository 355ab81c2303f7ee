import Foundation
import Testing

@testable import TesseraStorage

/// The store's retries as a server sees them, against scripted answers.
@Suite struct RetryBehaviourTests {
    let secret = "scripted-secret-\(UUID().uuidString)"

    func store(_ server: ScriptedHTTPServer, attempts: Int = 4) throws -> S3Store {
        S3Store(try S3Configuration(
            endpoint: server.endpoint, bucket: "scripted", credentials: try S3Credentials(accessKeyID: "AKIDSCRIPT", secretAccessKey: secret),
            retry: RetryPolicy(maxAttempts: attempts, baseDelay: 0.01, maxDelay: 0.05)))
    }

    @Test func serverErrorsAreRetriedUntilAnAnswer() throws {
        let server = try ScriptedHTTPServer([.init(status: 503), .init(status: 502), .init(status: 200, headers: ["Content-Length": "7"])])
        let info = try store(server).head(key: try ObjectKey("a b/c.mp4"))
        #expect(info != nil)
        let received = server.received
        #expect(received.count == 3)
        #expect(received.allSatisfy { $0.method == "HEAD" && $0.target == "/scripted/a%20b/c.mp4" })
    }

    @Test func throttlingIsRetriedAndTheWholeBodySentAgain() throws {
        let server = try ScriptedHTTPServer([
            .init(status: 429, headers: ["Retry-After": "0"]),
            .init(status: 503, body: "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"),
            .init(status: 200, headers: ["ETag": "\"abc\""]),
        ])
        let scratch = try Scratch("scripted-put")
        let file = try scratch.file("in.bin", size: 300_000)
        let info = try store(server).put(file: file, key: try ObjectKey("k.bin"), contentType: "video/mp4")
        #expect(info.etag == "abc")
        let received = server.received
        #expect(received.count == 3)
        #expect(received.allSatisfy { $0.method == "PUT" && $0.bodyLength == 300_000 })
        for request in received {
            #expect(request.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD")
            #expect(request.headers["content-type"] == "video/mp4")
            let authorization = request.headers["authorization"] ?? ""
            #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDSCRIPT/"))
            #expect(authorization.contains("/us-east-1/s3/aws4_request"))
            #expect(request.headers["x-amz-date"] != nil)
            #expect(!request.headers.values.contains { $0.contains(secret) }, "the secret never travels")
        }
    }

    @Test func exhaustedRetriesReportTheLastAnswerAndTheCount() throws {
        let server = try ScriptedHTTPServer(Array(repeating: .init(status: 500, body: "<Error><Code>InternalError</Code><Message>try later</Message></Error>"), count: 3))
        #expect {
            _ = try store(server, attempts: 3).list(prefix: "x")
        } throws: { error in
            guard case StorageError.server(500, "InternalError", let message, 3) = error else { return false }
            return message.contains("try later") && "\(error)".contains("after 3 attempts")
        }
        #expect(server.received.count == 3)
        #expect(server.received[0].target == "/scripted?encoding-type=url&list-type=2&prefix=x")
    }

    @Test func authenticationErrorsAreNotRetried() throws {
        let body = "<Error><Code>AccessDenied</Code><Message>Access Denied for \(secret)</Message></Error>"
        let server = try ScriptedHTTPServer([.init(status: 403, body: body), .init(status: 200)])
        #expect {
            try store(server).delete(key: try ObjectKey("k"))
        } throws: { error in
            guard case StorageError.authentication("AccessDenied", let message) = error else { return false }
            // Even a server that echoes the secret does not get it into the error.
            return !message.contains(secret) && message.contains("[redacted]") && !"\(error)".contains(secret)
        }
        #expect(server.received.count == 1)
    }

    @Test func anErrorInsideA200CompleteIsRetried() throws {
        let scratch = try Scratch("scripted-complete")
        let file = try scratch.file("in.bin", size: (5 << 20) + 10)
        let server = try ScriptedHTTPServer([
            .init(status: 200, body: "<InitiateMultipartUploadResult><UploadId>up/1+2</UploadId></InitiateMultipartUploadResult>"),
            .init(status: 200, headers: ["ETag": "\"p1\""]),
            .init(status: 200, headers: ["ETag": "\"p2\""]),
            .init(status: 200, body: "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"),
            .init(status: 200, body: "<CompleteMultipartUploadResult><ETag>\"whole-2\"</ETag></CompleteMultipartUploadResult>"),
        ])
        var configuration = try store(server).configuration
        configuration.multipartThreshold = 5 << 20
        configuration.partSize = 5 << 20
        configuration.maxParallelParts = 1
        let info = try S3Store(configuration).put(file: file, key: try ObjectKey("big file.bin"))
        #expect(info.etag == "whole-2")
        let targets = server.received.map { "\($0.method) \($0.target)" }
        #expect(targets == [
            "POST /scripted/big%20file.bin?uploads=",
            "PUT /scripted/big%20file.bin?partNumber=1&uploadId=up%2F1%2B2",
            "PUT /scripted/big%20file.bin?partNumber=2&uploadId=up%2F1%2B2",
            "POST /scripted/big%20file.bin?uploadId=up%2F1%2B2",
            "POST /scripted/big%20file.bin?uploadId=up%2F1%2B2",
        ])
        #expect(server.received[1].bodyLength == 5 << 20 && server.received[2].bodyLength == 10)
    }
}
