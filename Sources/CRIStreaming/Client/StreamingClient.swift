import FascoCore
#if canImport(Glibc)
import Glibc
#endif

/// A minimal blocking client of the streaming server's SPDY protocols, for tests and
/// diagnostics: connects to a streaming URL, upgrades, opens streams, sends data, and
/// collects what comes back. Not for use on cooperative threads (it blocks in poll).
final class StreamingClient {
    /// What the server has sent so far.
    struct Received {
        var data: [UInt32: [UInt8]] = [:]
        var replied: Set<UInt32> = []
        var finished: Set<UInt32> = []
        var reset: [UInt32: SPDYFrame.RstStatus] = [:]
        var pings: [UInt32] = []
        var goAway: UInt32?
        /// The server closed the connection.
        var closed = false

        func text(_ stream: UInt32) -> String { String(decoding: data[stream] ?? [], as: UTF8.self) }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    let socket: Int32
    /// The status line and headers of the server's answer to the upgrade.
    let responseHead: String
    /// The negotiated X-Stream-Protocol-Version.
    let negotiated: String?
    private let framer: SPDYFramer
    private var input = ByteQueue()
    private var nextStream: UInt32 = 1
    private(set) var received = Received()

    /// Connects to `url` (http://host:port/path) and asks to upgrade to SPDY/3.1 with `protocols`.
    /// Throws when the server answers anything but 101 (`responseHead` is then in the message).
    init(url: String, protocols: [String], method: String = "POST", timeout: Duration = .seconds(10)) throws {
        guard url.hasPrefix("http://") else { throw Failure("not an http URL: \(url)") }
        let rest = url.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        let path = slash < rest.endIndex ? String(rest[slash...]) : "/"
        guard let colon = authority.lastIndex(of: ":"), let port = UInt16(authority[authority.index(after: colon)...]) else {
            throw Failure("no port in \(url)")
        }
        var host = String(authority[..<colon])
        if host.hasPrefix("[") { host = String(host.dropFirst().dropLast()) }
        socket = try Self.connect(host: host, port: port)
        guard let framer = SPDYFramer() else {
            close(socket)
            throw Failure("no zlib")
        }
        self.framer = framer
        var request = "\(method) \(path) HTTP/1.1\r\nHost: \(authority)\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
        for name in protocols { request += "X-Stream-Protocol-Version: \(name)\r\n" }
        request += "Content-Length: 0\r\n\r\n"
        let deadline = ContinuousClock.now + timeout
        guard SocketIO.writeAll(socket, Array(request.utf8), deadline: deadline) else {
            close(socket)
            throw Failure("cannot send the request")
        }
        var buffer: [UInt8] = []
        var end: Int?
        while end == nil {
            end = try? HTTPRequestHead.end(in: buffer, limit: 64 << 10)
            if end != nil { break }
            guard SocketIO.wait(socket, events: Int16(POLLIN), until: deadline) else {
                close(socket)
                throw Failure("no response within \(timeout)")
            }
            switch SocketIO.read(socket, limit: 4096) {
            case .bytes(let bytes): buffer += bytes
            case .wouldBlock: continue
            case .endOfFile, .failed:
                close(socket)
                throw Failure("connection closed; got \(String(decoding: buffer, as: UTF8.self).debugDescription)")
            }
        }
        let headEnd = end ?? buffer.count
        responseHead = String(decoding: buffer[..<headEnd], as: UTF8.self)
        input.append(buffer[headEnd...])
        guard responseHead.hasPrefix("HTTP/1.1 101") else {
            // Read the body too, for the message.
            var body = Array(buffer[headEnd...])
            while SocketIO.wait(socket, events: Int16(POLLIN), until: min(deadline, ContinuousClock.now + .seconds(1))),
                  case .bytes(let more) = SocketIO.read(socket, limit: 4096) { body += more }
            close(socket)
            throw Failure(responseHead + String(decoding: body, as: UTF8.self))
        }
        negotiated = responseHead.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-stream-protocol-version:") }
            .map { String($0.dropFirst("x-stream-protocol-version:".count)).trimmingSpaces }
    }

    deinit { close(socket) }

    /// Opens a stream with `headers`; returns its ID (the reply arrives among `received`).
    @discardableResult
    func open(_ headers: [(String, String)], finished: Bool = false) throws -> UInt32 {
        let id = nextStream
        nextStream += 2
        try write(.synStream(streamID: id, associatedTo: 0, priority: 0, flags: finished ? SPDYFrame.finFlag : 0, headers: SPDYHeaders(headers)))
        return id
    }

    func send(_ bytes: [UInt8], on stream: UInt32, finished: Bool = false) throws {
        try write(.data(streamID: stream, flags: finished ? SPDYFrame.finFlag : 0, payload: bytes))
    }

    func send(_ text: String, on stream: UInt32, finished: Bool = false) throws {
        try send(Array(text.utf8), on: stream, finished: finished)
    }

    func write(_ frame: SPDYFrame) throws {
        try writeRaw(framer.encode(frame))
    }

    /// Sends bytes as they are (malformed input, for robustness tests).
    func writeRaw(_ bytes: [UInt8]) throws {
        guard SocketIO.writeAll(socket, bytes, deadline: ContinuousClock.now + .seconds(10)) else { throw Failure("send failed") }
    }

    /// Reads frames until `done` holds for what was received, the connection closes, or
    /// `timeout` passes; returns what was received.
    @discardableResult
    func receive(timeout: Duration = .seconds(30), until done: (Received) -> Bool = { $0.closed }) throws -> Received {
        let deadline = ContinuousClock.now + timeout
        while !done(received) && !received.closed {
            while let frame = try parse() { record(frame) }
            if done(received) { break }
            guard SocketIO.wait(socket, events: Int16(POLLIN), until: deadline) else { break }
            switch SocketIO.read(socket, limit: 64 << 10) {
            case .bytes(let bytes): input.append(bytes)
            case .wouldBlock: continue
            case .endOfFile, .failed:
                while let frame = try parse() { record(frame) }
                received.closed = true
            }
        }
        return received
    }

    private func parse() throws -> SPDYFrame? {
        do { return try framer.parse(&input) } catch { throw Failure("server sent a bad frame: \(error)") }
    }

    private func record(_ frame: SPDYFrame) {
        switch frame {
        case .synReply(let id, let flags, _):
            received.replied.insert(id)
            if flags & SPDYFrame.finFlag != 0 { received.finished.insert(id) }
        case .data(let id, let flags, let payload):
            received.data[id, default: []] += payload
            if flags & SPDYFrame.finFlag != 0 { received.finished.insert(id) }
        case .rstStream(let id, let status):
            received.reset[id] = status
        case .ping(let id):
            received.pings.append(id)
        case .goAway(let last, _):
            received.goAway = last
        case .synStream, .settings, .headers, .windowUpdate, .unknownControl:
            break
        }
    }

    static func connect(host: String, port: UInt16) throws -> Int32 {
        var v4 = in_addr()
        guard inet_pton(AF_INET, host, &v4) == 1 else { throw Failure("only IPv4 literals: \(host)") }
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: \(FileSystem.errnoText)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr = v4
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let text = FileSystem.errnoText
            close(fd)
            throw Failure("connect to \(host):\(port): \(text)")
        }
        SocketIO.setNonBlocking(fd)
        return fd
    }
}
