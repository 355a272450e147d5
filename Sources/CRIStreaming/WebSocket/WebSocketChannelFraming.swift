/// Kubernetes' remotecommand over WebSocket (channel.k8s.io v4 and v5, binary only): every
/// message starts with its channel (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize); v5
/// adds a close signal, [255, channel], with which the client ends its side of a channel
/// (stdin's end of file). There is no
/// stream creation: the streams a request needs exist from the start. Stream IDs are the
/// channel + 1.
final class WebSocketChannelFraming: Framing {
    static let channels: [RemoteCommandHandler.Role: UInt8] = [.stdin: 0, .stdout: 1, .stderr: 2, .error: 3, .resize: 4]
    static let closeSignal: UInt8 = 255

    let version: Int
    let maxPayload: Int
    private var pending: [FramingEvent]
    /// A message's fragments are arriving; its channel once its first byte has.
    private var inMessage = false
    private var messageChannel: UInt8?
    private var messageIsClose = false
    private var closeBytes: [UInt8] = []

    init(version: Int, roles: Set<RemoteCommandHandler.Role>, maxPayload: Int = 1 << 20) {
        self.version = version
        self.maxPayload = maxPayload
        pending = RemoteCommandHandler.Role.allCases.filter(roles.contains).compactMap { role in
            Self.channels[role].map { .opened(UInt32($0) + 1, SPDYHeaders([("streamtype", role.rawValue)]), finished: false) }
        }
    }

    var maxChunk: Int { 32 << 10 }

    func next(_ input: inout ByteQueue) throws(FramingError) -> FramingEvent? {
        if !pending.isEmpty { return pending.removeFirst() }
        while true {
            guard let frame = try WebSocketCodec.parse(&input, maxPayload: maxPayload) else { return nil }
            switch frame.opcode {
            case .ping:
                return .answer(WebSocketCodec.encode(.pong, frame.payload))
            case .pong:
                continue
            case .close:
                return .goAway
            case .text:
                throw FramingError("text messages are not part of the channel.k8s.io protocols")
            case .binary, .continuation:
                if frame.opcode == .binary {
                    guard !inMessage else { throw FramingError("a new message began before the last one ended") }
                    inMessage = true
                    messageChannel = nil
                    messageIsClose = false
                    closeBytes = []
                } else {
                    guard inMessage else { throw FramingError("a continuation frame outside a message") }
                }
                var payload = frame.payload[...]
                if messageChannel == nil, let first = payload.first {
                    messageChannel = first
                    payload = payload.dropFirst()
                    messageIsClose = version >= 5 && first == Self.closeSignal
                }
                if frame.fin { inMessage = false }
                if messageIsClose {
                    // [255, channel]: the client's side of that channel ends.
                    if closeBytes.isEmpty, let closed = payload.first { closeBytes = [closed] }
                    if frame.fin, let closed = closeBytes.first { return .finished(UInt32(closed) + 1) }
                    continue
                }
                guard let channel = messageChannel, !payload.isEmpty else { continue }
                return .data(UInt32(channel) + 1, Array(payload), finished: false)
            }
        }
    }

    func accept(_ stream: UInt32) -> [UInt8] { [] }

    func data(_ payload: ArraySlice<UInt8>, on stream: UInt32) -> [UInt8] {
        WebSocketCodec.encode(.binary, [UInt8(truncatingIfNeeded: stream &- 1)] + payload)
    }

    /// Nothing: the close signal goes from client to server only (client-go reads a server's
    /// [255, channel] as a message on an unknown channel); the server's streams end with
    /// the connection's close frame.
    func finish(_ stream: UInt32) -> [UInt8] { [] }

    func reset(_ stream: UInt32, status: SPDYFrame.RstStatus) -> [UInt8] { finish(stream) }

    func goodbye(lastStream: UInt32, protocolError: Bool) -> [UInt8] {
        WebSocketCodec.close(protocolError ? WebSocketCodec.protocolError : WebSocketCodec.normalClosure)
    }
}

/// SPDY/3.1 carried in WebSocket binary messages (client-go's port-forward tunnel,
/// subprotocol "SPDY/3.1+portforward.k8s.io"): the messages' payloads are the SPDY byte
/// stream, each direction.
final class WebSocketTunnelFraming: Framing {
    let inner: SPDYFraming
    let maxPayload: Int
    private var tunnelled = ByteQueue()

    init(inner: SPDYFraming, maxPayload: Int = 1 << 20) {
        self.inner = inner
        self.maxPayload = maxPayload
    }

    var maxChunk: Int { inner.maxChunk }

    func next(_ input: inout ByteQueue) throws(FramingError) -> FramingEvent? {
        while true {
            if let event = try inner.next(&tunnelled) {
                if case .answer(let bytes) = event { return .answer(wrap(bytes)) }
                return event
            }
            guard let frame = try WebSocketCodec.parse(&input, maxPayload: maxPayload) else { return nil }
            switch frame.opcode {
            case .binary, .continuation: tunnelled.append(frame.payload)
            case .ping: return .answer(WebSocketCodec.encode(.pong, frame.payload))
            case .pong: continue
            case .close: return .goAway
            case .text: throw FramingError("text messages cannot carry the SPDY tunnel")
            }
        }
    }

    private func wrap(_ bytes: [UInt8]) -> [UInt8] {
        bytes.isEmpty ? [] : WebSocketCodec.encode(.binary, bytes)
    }

    func accept(_ stream: UInt32) -> [UInt8] { wrap(inner.accept(stream)) }
    func data(_ payload: ArraySlice<UInt8>, on stream: UInt32) -> [UInt8] { wrap(inner.data(payload, on: stream)) }
    func finish(_ stream: UInt32) -> [UInt8] { wrap(inner.finish(stream)) }
    func reset(_ stream: UInt32, status: SPDYFrame.RstStatus) -> [UInt8] { wrap(inner.reset(stream, status: status)) }

    func goodbye(lastStream: UInt32, protocolError: Bool) -> [UInt8] {
        wrap(inner.goodbye(lastStream: lastStream, protocolError: protocolError))
            + WebSocketCodec.close(protocolError ? WebSocketCodec.protocolError : WebSocketCodec.normalClosure)
    }
}
