@testable import CRIStreaming
import FascoCore
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("the streaming server against a fake runtime")
struct StreamingServerTests {
    static let v4 = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io"]

    static func makeServer(_ runtime: FakeStreamingBackend = FakeStreamingBackend(),
                           configure: (inout StreamingServer.Configuration) -> Void = { _ in }) throws -> StreamingServer {
        var configuration = StreamingServer.Configuration()
        configure(&configuration)
        return try StreamingServer(configuration: configuration, backend: runtime, logger: Logger(label: "test"))
    }

    static func exec(_ server: StreamingServer, _ command: String, tty: Bool = false, stdin: Bool = false, stderr: Bool = true) throws -> String {
        try server.url(for: .exec(.init(containerID: "c", command: [command], tty: tty, stdin: stdin, stdout: true, stderr: stderr)))
    }

    @Test("exec: stdout and stderr relayed, the exit code on the error stream as a v4 Status, every stream ended")
    func execOutput() async throws {
        let server = try Self.makeServer()
        let url = try Self.exec(server, "echo")
        #expect(url.hasPrefix(server.baseURL + "/exec/"))
        let received = try await blocking {
            let client = try StreamingClient(url: url, protocols: Self.v4)
            #expect(client.negotiated == "v4.channel.k8s.io")
            try client.open([("streamType", "error")])
            try client.open([("streamType", "stdout")])
            try client.open([("streamType", "stderr")])
            return try client.receive()
        }
        #expect(received.replied == [1, 3, 5])
        #expect(received.text(3) == "out\n")
        #expect(received.text(5) == "err\n")
        #expect(received.text(1).contains(#""reason":"NonZeroExitCode""#))
        #expect(received.text(1).contains(#"{"message":"3","reason":"ExitCode"}"#))
        #expect(received.finished == [1, 3, 5])
        #expect(received.goAway == 5)
        await server.shutdown()
    }

    @Test("exec: stdin relayed and closed at the client's FIN; v3 gets no status on success")
    func execStdin() async throws {
        let server = try Self.makeServer()
        let url = try server.url(for: .exec(.init(containerID: "c", command: ["cat"], tty: false, stdin: true, stdout: true, stderr: false)))
        let received = try await blocking {
            let client = try StreamingClient(url: url, protocols: ["v3.channel.k8s.io"])
            #expect(client.negotiated == "v3.channel.k8s.io")
            try client.open([("streamType", "error")])
            let stdin = try client.open([("streamType", "stdin")])
            try client.open([("streamType", "stdout")])
            // Data sent before the command starts is kept for it.
            try client.send("hello ", on: stdin)
            try client.send("world", on: stdin, finished: true)
            return try client.receive()
        }
        #expect(received.text(5) == "hello world")
        #expect(received.text(1) == "")
        #expect(received.closed)
        await server.shutdown()
    }

    @Test("exec with a terminal: input and output through it, resize events applied")
    func execTerminal() async throws {
        let runtime = FakeStreamingBackend()
        let server = try Self.makeServer(runtime)
        let url = try Self.exec(server, "upper", tty: true, stdin: true, stderr: false)
        let received = try await blocking {
            let client = try StreamingClient(url: url, protocols: Self.v4)
            try client.open([("streamType", "error")])
            let stdin = try client.open([("streamType", "stdin")])
            try client.open([("streamType", "stdout")])
            let resize = try client.open([("streamType", "resize")])
            try client.send(#"{"Width":100,"Height":30}"# + "\n", on: resize)
            try client.receive(timeout: .seconds(10)) { $0.replied.count == 4 }
            try client.send("abc", on: stdin)
            try client.receive(timeout: .seconds(10)) { $0.text(5) == "ABC" }
            try client.send(#"{"Width":120,"#, on: resize)
            try client.send(#""Height":40}"# + "\n", on: resize)
            try client.send(" exit", on: stdin)
            return try client.receive()
        }
        #expect(received.text(5) == "ABC EXIT")
        #expect(received.text(1) == #"{"metadata":{},"status":"Success"}"#)
        #expect(runtime.sizes.withLock { $0 } == ["100x30", "120x40"])
        await server.shutdown()
    }

    @Test("a command that cannot start is an InternalError status")
    func execStartFailure() async throws {
        let server = try Self.makeServer()
        let url = try server.url(for: .exec(.init(containerID: "c", command: ["fail"], tty: false, stdin: false, stdout: true, stderr: false)))
        let received = try await blocking {
            let client = try StreamingClient(url: url, protocols: Self.v4)
            try client.open([("streamType", "error")])
            try client.open([("streamType", "stdout")])
            return try client.receive()
        }
        #expect(received.text(1).contains(#""reason":"InternalError""#))
        #expect(received.text(1).contains("no such command"))
        await server.shutdown()
    }

    @Test("a client that goes away kills its command")
    func disconnectKills() async throws {
        let runtime = FakeStreamingBackend()
        let server = try Self.makeServer(runtime)
        let url = try server.url(for: .exec(.init(containerID: "c", command: ["hang"], tty: false, stdin: false, stdout: true, stderr: false)))
        try await blocking {
            let client = try StreamingClient(url: url, protocols: Self.v4)
            try client.open([("streamType", "error")])
            try client.open([("streamType", "stdout")])
            try client.receive(timeout: .seconds(5)) { $0.replied.count == 2 }
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while runtime.kills.withLock({ $0 }) == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(runtime.kills.withLock { $0 } == 1)
        #expect(await waitFor { server.activeSessions == 0 })
        await server.shutdown()
    }

    @Test("URLs are one-time; wrong paths, methods, upgrades and protocols get HTTP errors")
    func handshakeErrors() async throws {
        let server = try Self.makeServer()
        let url = try Self.exec(server, "echo")
        let portForward = try server.url(for: .portForward(.init(podSandboxID: "p", ports: [])))
        let failures: [String] = try await blocking {
            var failures: [String] = []
            func attempt(_ url: String, _ protocols: [String], method: String = "POST") {
                do {
                    _ = try StreamingClient(url: url, protocols: protocols, method: method)
                    failures.append("upgraded")
                } catch {
                    failures.append(String(describing: error).components(separatedBy: "\r\n").first ?? "")
                }
            }
            // An exec token on the port-forward path is unknown there (and used up).
            attempt(server.baseURL + "/portforward/" + (url.split(separator: "/").last.map(String.init) ?? ""), Self.v4)
            attempt(url, Self.v4)
            attempt(portForward, ["v4.channel.k8s.io"])
            attempt(server.baseURL + "/nothing", Self.v4, method: "DELETE")
            return failures
        }
        #expect(failures == ["HTTP/1.1 404 Not Found", "HTTP/1.1 404 Not Found", "HTTP/1.1 403 Forbidden", "HTTP/1.1 405 Method Not Allowed"])
        await server.shutdown()
    }

    @Test("a client that does not open its streams in time is disconnected")
    func streamCreationTimeout() async throws {
        let server = try Self.makeServer { $0.streamCreationTimeout = .milliseconds(300) }
        let url = try Self.exec(server, "echo")
        let received = try await blocking {
            let client = try StreamingClient(url: url, protocols: Self.v4)
            try client.open([("streamType", "error")])
            return try client.receive(timeout: .seconds(10))
        }
        #expect(received.closed)
        #expect(received.goAway != nil)
        await server.shutdown()
    }

    @Test("port forward: connections relayed both ways with half-close, pings answered, failures on the error stream")
    func portForward() async throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        let server = try Self.makeServer()
        let url = try server.url(for: .portForward(.init(podSandboxID: "pod", ports: [])))
        let port = echo.port
        let received = try await blocking {
            let client = try StreamingClient(url: url, protocols: ["portforward.k8s.io"])
            #expect(client.negotiated == "portforward.k8s.io")
            try client.write(.ping(id: 1))
            // Two forwarded connections at once, and one to a closed port.
            let error0 = try client.open([("streamType", "error"), ("port", "\(port)"), ("requestID", "0")], finished: true)
            let data0 = try client.open([("streamType", "data"), ("port", "\(port)"), ("requestID", "0")])
            let error1 = try client.open([("streamType", "error"), ("port", "\(port)"), ("requestID", "1")], finished: true)
            let data1 = try client.open([("streamType", "data"), ("port", "\(port)"), ("requestID", "1")])
            let error2 = try client.open([("streamType", "error"), ("port", "1"), ("requestID", "2")], finished: true)
            try client.open([("streamType", "data"), ("port", "1"), ("requestID", "2")])
            try client.send("ping zero", on: data0, finished: true)
            try client.send("ping one", on: data1)
            try client.receive(timeout: .seconds(10)) { $0.text(data1) == "ping one" }
            try client.send(" again", on: data1, finished: true)
            return try client.receive(timeout: .seconds(10)) {
                [error0, data0, error1, data1, error2].allSatisfy($0.finished.contains)
            }
        }
        #expect(received.pings == [1])
        #expect(received.text(3) == "ping zero")
        #expect(received.text(7) == "ping one again")
        #expect(received.text(1) == "")
        #expect(received.text(5) == "")
        #expect(received.text(9).hasPrefix("error forwarding port 1 to pod pod: "))
        await server.shutdown()
    }

    @Test("garbage, slow and oversized requests and broken frames never hurt the server", .timeLimit(.minutes(1)))
    func hostileClients() async throws {
        let server = try Self.makeServer {
            $0.handshakeTimeout = .milliseconds(500)
            $0.maxSessions = 4
        }
        let base = server.baseURL
        let port = server.port
        let answers: [String] = try await blocking {
            var answers: [String] = []
            func raw(_ bytes: [UInt8], wait: Duration = .seconds(3)) throws -> String {
                let fd = try StreamingClient.connect(host: "127.0.0.1", port: port)
                defer { close(fd) }
                _ = SocketIO.writeAll(fd, bytes, deadline: ContinuousClock.now + .seconds(2))
                var reply: [UInt8] = []
                let deadline = ContinuousClock.now + wait
                while SocketIO.wait(fd, events: Int16(POLLIN), until: deadline), case .bytes(let more) = SocketIO.read(fd, limit: 4096) {
                    reply += more
                }
                return String(decoding: reply, as: UTF8.self).components(separatedBy: "\r\n").first ?? ""
            }
            answers.append(try raw(Array(repeating: 0xff, count: 300) + [13, 10, 13, 10]))
            answers.append(try raw(Array("GET /exec/x HTTP/1.1\r\nHost: a\r\n".utf8)))  // never finished: timed out
            answers.append(try raw(Array("GET /exec/x HTTP/1.1\r\nX: \(String(repeating: "a", count: 20000))\r\n\r\n".utf8)))
            answers.append(try raw(Array("GET /exec/x HTTP/1.1\r\n\r\n".utf8)))
            return answers
        }
        #expect(answers == ["HTTP/1.1 400 Bad Request", "HTTP/1.1 408 Request Timeout", "HTTP/1.1 431 Request Header Fields Too Large",
                            "HTTP/1.1 404 Not Found"])

        // After the upgrade: a frame cut in half, a frame too large, a corrupt header block.
        for wire in [[0x80, 3, 0, 1, 0, 0, 0, 40, 0, 0] as [UInt8], [0, 0, 0, 1, 0, 0xff, 0xff, 0xff], [0x80, 3, 0, 1, 0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9]] {
            let url = try Self.exec(server, "hang")
            let received = try await blocking {
                let client = try StreamingClient(url: url, protocols: Self.v4)
                try client.writeRaw(wire)
                if wire.count == 10 { return StreamingClient.Received() }  // hang up mid-frame
                return try client.receive(timeout: .seconds(10))
            }
            if wire.count != 10 { #expect(received.closed && received.goAway != nil) }
        }
        // Sessions are bounded: idle connections beyond the limit are turned away. (A server of
        // its own, whose handshake timeout outlasts the check: on a loaded host the 500 ms one
        // above could time an idle session out first and free its slot.)
        let bounded = try Self.makeServer { $0.maxSessions = 4; $0.handshakeTimeout = .seconds(60) }
        let boundedPort = bounded.port
        let idle = try await blocking { () -> [Int32] in (0..<4).compactMap { _ in try? StreamingClient.connect(host: "127.0.0.1", port: boundedPort) } }
        #expect(idle.count == 4)
        #expect(await waitFor { bounded.activeSessions == 4 })
        let turnedAway = try await blocking { () -> String in
            let fd = try StreamingClient.connect(host: "127.0.0.1", port: boundedPort)
            defer { close(fd) }
            guard SocketIO.wait(fd, events: Int16(POLLIN), until: ContinuousClock.now + .seconds(2)),
                  case .bytes(let reply) = SocketIO.read(fd, limit: 4096) else { return "" }
            return String(decoding: reply, as: UTF8.self).components(separatedBy: "\r\n").first ?? ""
        }
        #expect(turnedAway == "HTTP/1.1 503 Service Unavailable")
        for fd in idle { close(fd) }
        #expect(await waitFor { bounded.activeSessions == 0 })
        await bounded.shutdown()
        // Still serving.
        #expect(await waitFor { server.activeSessions == 0 })
        let url = try Self.exec(server, "echo")
        let received = try await blocking {
            let client = try StreamingClient(url: url, protocols: Self.v4)
            try client.open([("streamType", "error")])
            try client.open([("streamType", "stdout")])
            try client.open([("streamType", "stderr")])
            return try client.receive()
        }
        #expect(received.text(3) == "out\n")
        _ = base
        await server.shutdown()
    }
}

/// Polls `condition` for up to 10 s.
func waitFor(_ condition: @Sendable () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(10)
    while !condition() {
        if ContinuousClock.now > deadline { return false }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return true
}
