import FascoCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One accepted connection, on its own thread: reads the HTTP request (bounded in size and
/// time), redeems its one-time token, negotiates the protocol, upgrades to SPDY/3.1 and
/// runs the protocol's handler until the connection ends. Never throws: every failure is an
/// HTTP error response or a closed connection.
struct Session {
    /// remotecommand subprotocols Fasco speaks over SPDY (v5 only adds a close signal for WebSockets).
    static let remoteCommandProtocols = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io"]
    static let portForwardProtocols = ["portforward.k8s.io"]
    /// Over WebSocket: binary channels (v5 adds a close signal per channel).
    static let webSocketRemoteCommandProtocols = ["v5.channel.k8s.io", "v4.channel.k8s.io"]
    /// Over WebSocket, port forwarding is SPDY tunnelled in binary messages (client-go's tunnel).
    static let webSocketPortForwardProtocols = ["SPDY/3.1+portforward.k8s.io"]

    let socket: Int32
    let server: StreamingServer.Context

    func run() {
        SocketIO.setNonBlocking(socket)
        var keepSocket = false
        defer { if !keepSocket { close(socket) } }
        let deadline = ContinuousClock.now + server.configuration.handshakeTimeout
        var buffer: [UInt8] = []
        let headEnd: Int
        do throws(HTTPRequestHead.ParseError) {
            while true {
                if let end = try HTTPRequestHead.end(in: buffer, limit: server.configuration.maxRequestHeadBytes) {
                    headEnd = end
                    break
                }
                guard SocketIO.wait(socket, events: Int16(POLLIN), until: deadline) else {
                    reply(HTTPResponse.error(408, "Request Timeout", "the request head did not arrive in time"), deadline)
                    return
                }
                switch SocketIO.read(socket, limit: 4096) {
                case .bytes(let bytes): buffer += bytes
                case .wouldBlock: continue
                case .endOfFile, .failed: return
                }
            }
        } catch {
            reply(HTTPResponse.error(431, "Request Header Fields Too Large", "the request head exceeds \(server.configuration.maxRequestHeadBytes) bytes"), deadline)
            return
        }
        let head: HTTPRequestHead
        do {
            head = try HTTPRequestHead.parse(buffer[..<headEnd])
        } catch {
            reply(HTTPResponse.error(400, "Bad Request", "malformed request"), deadline)
            return
        }
        let leftover = Array(buffer[headEnd...])
        guard head.method == "GET" || head.method == "POST" else {
            reply(HTTPResponse.error(405, "Method Not Allowed", "use GET or POST", headers: [("Allow", "GET, POST")]), deadline)
            return
        }
        // /exec/<token>, /attach/<token>, /portforward/<token>
        let parts = head.path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].isEmpty, let request = server.tokens.consume(String(parts[2])),
              request.pathPrefix == parts[1] else {
            reply(HTTPResponse.error(404, "Not Found", "unknown or expired streaming URL"), deadline)
            return
        }
        let upgrades = head.values("upgrade").map { $0.lowercased() }
        guard head.has("connection", token: "upgrade"), upgrades.contains("spdy/3.1") || upgrades.contains("websocket") else {
            reply(HTTPResponse.error(400, "Bad Request", "unable to upgrade: streaming needs Connection: Upgrade and Upgrade: SPDY/3.1 or websocket"), deadline)
            return
        }
        let isWebSocket = !upgrades.contains("spdy/3.1")
        let offered = isWebSocket ? head.values("sec-websocket-protocol") : head.values("x-stream-protocol-version")
        let supported: [String]
        switch (request, isWebSocket) {
        case (.portForward, false): supported = Self.portForwardProtocols
        case (.portForward, true): supported = Self.webSocketPortForwardProtocols
        case (_, false): supported = Self.remoteCommandProtocols
        case (_, true): supported = Self.webSocketRemoteCommandProtocols
        }
        guard !offered.isEmpty else {
            reply(HTTPResponse.error(400, "Bad Request", "unable to upgrade: \(isWebSocket ? "Sec-WebSocket-Protocol" : "X-Stream-Protocol-Version") is required"), deadline)
            return
        }
        // The client's order of preference decides (as kubelet negotiates).
        guard let chosen = offered.first(where: { supported.contains($0) }) else {
            reply(HTTPResponse.error(403, "Forbidden", "unable to upgrade: unable to negotiate protocol: client supports \(offered), server accepts \(supported)",
                                     headers: supported.map { ("X-Accepted-Stream-Protocol-Versions", $0) }), deadline)
            return
        }
        var responseHeaders = [("Connection", "Upgrade")]
        if isWebSocket {
            // RFC 6455 section 4.2: version 13 and a 16-byte nonce, base64.
            guard head.first("sec-websocket-version") == "13" else {
                reply(HTTPResponse.error(426, "Upgrade Required", "WebSocket version 13 is required", headers: [("Sec-WebSocket-Version", "13")]), deadline)
                return
            }
            guard let key = head.first("sec-websocket-key"), key.utf8.count == 24 else {
                reply(HTTPResponse.error(400, "Bad Request", "a WebSocket upgrade needs a Sec-WebSocket-Key"), deadline)
                return
            }
            responseHeaders += [("Upgrade", "websocket"), ("Sec-WebSocket-Accept", WebSocketCodec.accept(key: key)), ("Sec-WebSocket-Protocol", chosen)]
        } else {
            responseHeaders += [("Upgrade", "SPDY/3.1"), ("X-Stream-Protocol-Version", chosen)]
        }
        guard let framer = SPDYFramer(), let mailbox = try? Mailbox() else {
            reply(HTTPResponse.error(503, "Service Unavailable", "out of resources"), deadline)
            return
        }
        guard SocketIO.writeAll(socket, HTTPResponse.status(101, "Switching Protocols", headers: responseHeaders), deadline: deadline) else {
            mailbox.close()
            return
        }
        var logger = server.logger
        logger[metadataKey: "stream"] = "\(request.pathPrefix)"
        let handler = handler(for: request, protocol: chosen, logger: logger)
        let framing: any Framing
        switch (isWebSocket, handler as? RemoteCommandHandler) {
        case (false, _): framing = SPDYFraming(framer: framer)
        case (true, let remote?): framing = WebSocketChannelFraming(version: chosen.hasPrefix("v5.") ? 5 : 4, roles: remote.expectedRoles)
        case (true, nil): framing = WebSocketTunnelFraming(inner: SPDYFraming(framer: framer))
        }
        let connection = StreamingConnection(socket: socket, framing: framing, mailbox: mailbox, leftover: leftover,
                                             limits: server.configuration.connectionLimits, logger: logger)
        keepSocket = true  // the connection closes it
        connection.run(handler)
    }

    private func handler(for request: StreamingRequest, protocol chosen: String, logger: Logger) -> SessionHandler {
        let backend = server.backend
        let timeout = server.configuration.streamCreationTimeout
        let version = chosen.hasPrefix("v2.") ? 2 : chosen.hasPrefix("v3.") ? 3 : 4
        switch request {
        case .exec(let exec):
            var logger = logger
            logger[metadataKey: "containerID"] = "\(exec.containerID)"
            return RemoteCommandHandler(
                options: .init(stdin: exec.stdin, stdout: exec.stdout, stderr: exec.stderr, tty: exec.tty),
                version: version, streamCreationTimeout: timeout, logger: logger
            ) { () async throws(FascoError) -> StreamingProcess in try await backend.exec(exec) }
        case .attach(let attach):
            var logger = logger
            logger[metadataKey: "containerID"] = "\(attach.containerID)"
            return RemoteCommandHandler(
                options: .init(stdin: attach.stdin, stdout: attach.stdout, stderr: attach.stderr, tty: attach.tty),
                version: version, streamCreationTimeout: timeout, drainGrace: nil, logger: logger
            ) { () async throws(FascoError) -> StreamingProcess in try await backend.attach(attach) }
        case .portForward(let forward):
            var logger = logger
            logger[metadataKey: "podSandboxID"] = "\(forward.podSandboxID)"
            let pod = forward.podSandboxID
            return PortForwardHandler(podSandboxID: pod, allowedPorts: forward.ports, streamCreationTimeout: timeout, logger: logger) {
                (port: UInt16) async throws(FascoError) -> Int32 in try await backend.portForward(podSandboxID: pod, port: port)
            }
        }
    }

    private func reply(_ response: [UInt8], _ deadline: ContinuousClock.Instant) {
        _ = SocketIO.writeAll(socket, response, deadline: min(deadline, ContinuousClock.now + .seconds(2)))
        // Let the client read the response before the close (unread input would turn it into a reset).
        shutdown(socket, Int32(SHUT_WR))
        var drained = 0
        let linger = ContinuousClock.now + .milliseconds(500)
        while drained < 64 << 10, SocketIO.wait(socket, events: Int16(POLLIN), until: linger) {
            guard case .bytes(let bytes) = SocketIO.read(socket, limit: 16 << 10) else { return }
            drained += bytes.count
        }
    }
}
