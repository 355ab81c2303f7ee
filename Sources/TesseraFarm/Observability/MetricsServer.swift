import Foundation
import Logging
import Prometheus
import Synchronization

/// Serves the Prometheus registry as text at `GET /metrics` on a loopback (or configured) address.
/// A tiny blocking HTTP/1.0 responder on its own thread: one scrape at a time is all Prometheus needs.
public final class MetricsServer: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let descriptor: Int32
    /// The port actually bound (useful with port 0).
    public let port: Int
    private let logger: Logger

    /// Binds `host:port` ("127.0.0.1:9464"). Port 0 picks a free port.
    public init(address: String, registry: PrometheusCollectorRegistry, logger: Logger) throws {
        let parts = address.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let port = UInt16(parts[1]) else {
            throw WorkerOptionsError("metrics address must be HOST:PORT, got \(address)")
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, parts[0], &addr.sin_addr) == 1 else {
            throw WorkerOptionsError("metrics host must be an IPv4 address, got \(parts[0])")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw WorkerOptionsError("cannot open a socket for metrics: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw WorkerOptionsError("cannot listen for metrics on \(address): errno \(errno)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: actual.sin_port))
        self.descriptor = fd
        self.registry = registry
        self.logger = logger
    }

    /// Serves scrapes on a background thread for the life of the process.
    public func start() {
        let thread = Thread { self.serve() }
        thread.name = "tessera-metrics"
        thread.start()
    }

    private func serve() {
        while true {
            let client = accept(descriptor, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                logger.error("metrics server stopped", metadata: ["errno": "\(errno)"])
                return
            }
            var request = [UInt8](repeating: 0, count: 4096)
            let count = read(client, &request, request.count)
            let line = String(decoding: request.prefix(max(0, count)), as: UTF8.self).split(separator: "\r\n").first ?? ""
            let response: String
            if line.hasPrefix("GET /metrics") {
                let body = registry.emitToString()
                response = "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
            } else {
                response = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"
            }
            var bytes = Array(response.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeMutableBytes { write(client, $0.baseAddress! + offset, $0.count - offset) }
                if written <= 0 { break }
                offset += written
            }
            close(client)
        }
    }
}
