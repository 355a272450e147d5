import CRIStreaming
import FascoCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The Prometheus endpoint: `GET /metrics` answers `render()`'s text (the registry's emitted
/// exposition) with `Content-Type: text/plain; version=0.0.4`; other paths are 404, other
/// methods 405. One dedicated thread polls the listener and its connections (never a thread
/// of Swift's cooperative pool); each connection sends one request head and is closed after the
/// answer. Bounded: a head of at most `maxHeadBytes`, `requestTimeout` to send it,
/// `writeTimeout` to take the answer, at most `maxConnections` at once (more are closed at once).
final class MetricsServer: Sendable {
    static let maxHeadBytes = 8192
    static let maxConnections = 16
    static let requestTimeout = Duration.seconds(5)
    static let writeTimeout = Duration.seconds(5)
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    let address: MetricsAddress
    private let listener: Int32
    private let wake: (read: Int32, write: Int32)
    private let render: @Sendable () -> [UInt8]
    /// Whether the thread has closed everything, and who waits for that.
    private let ended = Mutex<(done: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    /// Binds `address` and starts serving; throws a `ConfigError` naming the key when it cannot.
    init(address: MetricsAddress, render: @escaping @Sendable () -> [UInt8]) throws(ConfigError) {
        self.address = address
        self.render = render
        listener = try Self.listen(address)
        do {
            wake = try SocketIO.makePipe()
        } catch {
            close(listener)
            throw ConfigError("metrics.address: \(error.message)")
        }
        let started = DetachedThread.start { [self] in
            serve()
        }
        guard started else {
            close(listener)
            close(wake.read)
            close(wake.write)
            throw ConfigError("metrics.address: cannot start the metrics thread")
        }
    }

    /// Stops serving; returns once the listener is closed.
    func stop() async {
        await withCheckedContinuation { continuation in
            let done = ended.withLock { state -> Bool in
                if !state.done { state.waiter = continuation }
                return state.done
            }
            if done {
                continuation.resume()
                return
            }
            var byte: UInt8 = 1
            _ = write(wake.write, &byte, 1)
        }
    }

    // MARK: the thread

    private struct Connection {
        let fd: Int32
        var head: [UInt8] = []
        let deadline: ContinuousClock.Instant
    }

    private func serve() {
        var connections: [Connection] = []
        loop: while true {
            var entries = [pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            entries += connections.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let next = connections.map(\.deadline).min()
            let timeout = next.map { SocketIO.milliseconds(until: $0) } ?? -1
            let ready = poll(&entries, nfds_t(entries.count), timeout)
            if ready < 0 && errno != EINTR { break }
            if entries[0].revents != 0 { break loop }
            // The connections polled this round; those accepted below wait for the next.
            let polled = connections.count
            if entries[1].revents & Int16(POLLIN) != 0 {
                while true {
                    let fd = accept(listener, nil, nil)
                    guard fd >= 0 else { break }
                    SocketIO.setCloseOnExec(fd)
                    SocketIO.setNonBlocking(fd)
                    guard connections.count < Self.maxConnections else {
                        close(fd)
                        continue
                    }
                    connections.append(Connection(fd: fd, deadline: .now + Self.requestTimeout))
                }
            }
            var kept = Array(connections[polled...])
            for (index, var connection) in connections[..<polled].enumerated() {
                let events = entries[index + 2].revents
                if events == 0 {
                    if ContinuousClock.now >= connection.deadline { close(connection.fd) } else { kept.append(connection) }
                    continue
                }
                switch SocketIO.read(connection.fd, limit: Self.maxHeadBytes + 1 - connection.head.count) {
                case .wouldBlock:
                    kept.append(connection)
                case .endOfFile, .failed:
                    close(connection.fd)
                case .bytes(let bytes):
                    connection.head += bytes
                    if let answer = answer(to: connection.head) {
                        _ = SocketIO.writeAll(connection.fd, answer, deadline: .now + Self.writeTimeout)
                        shutdown(connection.fd, Int32(SHUT_WR))
                        close(connection.fd)
                    } else {
                        kept.append(connection)
                    }
                }
            }
            connections = kept
        }
        for connection in connections { close(connection.fd) }
        close(listener)
        let waiter = ended.withLock { state in
            state.done = true
            defer { state.waiter = nil }
            return state.waiter
        }
        // The pipe stays open while stop() may still write to it; it goes with the process.
        waiter?.resume()
    }

    /// The answer to a request whose head is (so far) `bytes`; nil while the head is incomplete.
    func answer(to bytes: [UInt8]) -> [UInt8]? {
        guard let end = Self.headEnd(bytes) else {
            return bytes.count > Self.maxHeadBytes ? Self.response(431, "Request Header Fields Too Large") : nil
        }
        guard end <= Self.maxHeadBytes else { return Self.response(431, "Request Header Fields Too Large") }
        // The request line: METHOD SP target SP HTTP/1.x
        let line = bytes[..<(bytes.firstIndex(of: UInt8(ascii: "\r")) ?? end)]
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].starts(with: Array("HTTP/1.".utf8)), !parts[0].isEmpty else {
            return Self.response(400, "Bad Request")
        }
        let method = String(decoding: parts[0], as: UTF8.self)
        let target = parts[1]
        let path = String(decoding: target.prefix { $0 != UInt8(ascii: "?") }, as: UTF8.self)
        guard method == "GET" else { return Self.response(405, "Method Not Allowed", headers: [("Allow", "GET")]) }
        guard path == "/metrics" else { return Self.response(404, "Not Found") }
        return Self.response(200, "OK", contentType: Self.contentType, body: render())
    }

    /// The index just past the head's blank line, or nil when it has not come yet.
    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 3..<bytes.count where bytes[index] == 10 {
            if bytes[index - 1] == 13, bytes[index - 2] == 10, bytes[index - 3] == 13 { return index + 1 }
        }
        return nil
    }

    static func response(_ code: Int, _ reason: String, headers: [(String, String)] = [], contentType: String = "text/plain; charset=utf-8",
                         body: [UInt8]? = nil) -> [UInt8] {
        let body = body ?? Array("\(code) \(reason)\n".utf8)
        var head = "HTTP/1.1 \(code) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }

    /// A non-blocking listening TCP socket on `address`.
    private static func listen(_ address: MetricsAddress) throws(ConfigError) -> Int32 {
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw ConfigError("metrics.address: cannot create a socket: \(FileSystem.errnoText)") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        let bound: Int32
        if address.isIPv6 {
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = address.port.bigEndian
            inet_pton(AF_INET6, address.host, &socketAddress.sin6_addr)
            bound = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = address.port.bigEndian
            inet_pton(AF_INET, address.host, &socketAddress.sin_addr)
            bound = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard bound == 0, Glibc.listen(fd, 64) == 0 else {
            let text = FileSystem.errnoText
            close(fd)
            throw ConfigError("metrics.address: cannot listen on \(address): \(text)")
        }
        return fd
    }
}
