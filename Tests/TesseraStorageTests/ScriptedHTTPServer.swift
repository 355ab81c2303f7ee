import Foundation
import Synchronization

/// A tiny HTTP/1.1 server on 127.0.0.1 that answers requests from a script, in order, and records what it
/// received: for the cases a real S3 server will not produce on demand (503, 429, a 200 holding an error).
/// It checks no signature. Keep-alive and `Expect: 100-continue` are handled as curl uses them.
final class ScriptedHTTPServer: Sendable {
    struct Reply: Sendable {
        var status: Int
        var headers: [String: String] = [:]
        var body: String = ""
    }

    struct Received: Sendable {
        var method: String
        var target: String
        /// Lower-cased names.
        var headers: [String: String]
        var bodyLength: Int
    }

    let port: Int
    private let listener: Int32
    private let script: Mutex<[Reply]>
    private let log = Mutex<[Received]>([])

    init(_ replies: [Reply]) throws {
        script = Mutex(replies)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, ok else { throw POSIXError(.EADDRNOTAVAIL) }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        // The accept loop holds the server weakly: dropping the server closes the listener, which ends it.
        Thread { [weak self] in
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                guard let self else {
                    close(client)
                    return
                }
                Thread { self.serve(client) }.start()
            }
        }.start()
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    var endpoint: URL { URL(string: "http://127.0.0.1:\(port)")! }
    var received: [Received] { log.withLock { $0 } }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var buffer: [UInt8] = []
        while true {
            // Headers.
            var headerEnd: Int?
            while headerEnd == nil {
                if let range = findCRLFCRLF(buffer) { headerEnd = range; break }
                guard let more = readSome(client) else { return }
                buffer += more
            }
            let head = String(decoding: buffer[..<headerEnd!], as: UTF8.self)
            buffer.removeFirst(headerEnd! + 4)
            let lines = head.components(separatedBy: "\r\n")
            let requestLine = lines[0].split(separator: " ")
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            // Body.
            let length = Int(headers["content-length"] ?? "0") ?? 0
            if headers["expect"]?.lowercased() == "100-continue" { send(client, "HTTP/1.1 100 Continue\r\n\r\n") }
            while buffer.count < length {
                guard let more = readSome(client) else { return }
                buffer += more
            }
            buffer.removeFirst(length)
            log.withLock {
                $0.append(Received(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, bodyLength: length))
            }
            let reply = script.withLock { $0.isEmpty ? Reply(status: 500, body: "<Error><Code>ScriptEnded</Code></Error>") : $0.removeFirst() }
            var text = "HTTP/1.1 \(reply.status) Scripted\r\nContent-Length: \(reply.body.utf8.count)\r\n"
            for (name, value) in reply.headers { text += "\(name): \(value)\r\n" }
            send(client, text + "\r\n" + (requestLine[0] == "HEAD" ? "" : reply.body))
        }
    }

    private func findCRLFCRLF(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return i }
        return nil
    }

    private func readSome(_ fd: Int32) -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = read(fd, &chunk, chunk.count)
        return count > 0 ? Array(chunk[..<count]) : nil
    }

    private func send(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let written = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written > 0 else { return }
            done += written
        }
    }
}
