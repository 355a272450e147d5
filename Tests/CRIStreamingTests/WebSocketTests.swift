@testable import CRIStreaming
import FascoCore
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A client's frame: masked (RFC 6455 section 5.3).
func maskedFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]) -> [UInt8] {
    var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode]
    if payload.count < 126 {
        bytes.append(0x80 | UInt8(payload.count))
    } else if payload.count <= 0xffff {
        bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
    } else {
        bytes.append(0x80 | 127)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: UInt64(payload.count) >> UInt64(shift))) }
    }
    bytes += mask
    bytes += payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
    return bytes
}

@Suite("WebSocket framing")
struct WebSocketTests {
    @Test("the handshake's accept value is RFC 6455's example")
    func accept() {
        #expect(WebSocketCodec.accept(key: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(Base64URL.encodeStandard(Array("ab".utf8)) == "YWI=")
        #expect(Base64URL.encodeStandard(Array("abc".utf8)) == "YWJj")
        #expect(Base64URL.encodeStandard(Array("a".utf8)) == "YQ==")
    }

    @Test("masked frames of every length form decode; server frames encode unmasked")
    func codec() throws {
        for size in [0, 5, 125, 126, 300, 65535, 65536, 70000] {
            let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0) }
            var input = ByteQueue(maskedFrame(2, payload))
            let frame = try #require(try WebSocketCodec.parse(&input, maxPayload: 1 << 20))
            #expect(frame == WebSocketCodec.Frame(fin: true, opcode: .binary, payload: payload))
            #expect(input.isEmpty)
        }
        // Incomplete: nothing yet, nothing consumed.
        var partial = ByteQueue(Array(maskedFrame(2, Array(repeating: 1, count: 300)).prefix(50)))
        #expect(try WebSocketCodec.parse(&partial, maxPayload: 1 << 20) == nil)
        #expect(partial.count == 50)
        #expect(WebSocketCodec.encode(.binary, [1, 2]) == [0x82, 2, 1, 2])
        #expect(Array(WebSocketCodec.encode(.binary, Array(repeating: 0, count: 200)).prefix(4)) == [0x82, 126, 0, 200])
    }

    @Test("unmasked, oversized, reserved and malformed control frames are errors", arguments: [
        [0x82, 0x01, 0x00],                                    // unmasked
        [0xC2, 0x80, 0, 0, 0, 0],                              // RSV1
        [0x83, 0x80, 0, 0, 0, 0],                              // reserved opcode
        [0x89, 0xFE, 0, 200, 0, 0, 0, 0],                      // ping of 200 bytes
        [0x09, 0x80, 0, 0, 0, 0],                              // fragmented ping
        [0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],  // 2^63 bytes announced
    ] as [[UInt8]])
    func malformed(_ bytes: [UInt8]) {
        var input = ByteQueue(bytes)
        #expect(throws: FramingError.self) { try WebSocketCodec.parse(&input, maxPayload: 1 << 20) }
    }

    @Test("remotecommand channels: streams exist from the start, fragments join, v5's close signal ends stdin, pings are answered")
    func channels() throws {
        let framing = WebSocketChannelFraming(version: 5, roles: [.error, .stdin, .stdout])
        var input = ByteQueue(
            maskedFrame(2, [0] + Array("hel".utf8), fin: false) + maskedFrame(0, Array("lo".utf8)) + maskedFrame(9, [7])
                + maskedFrame(2, [255, 0]))
        var events: [FramingEvent] = []
        while let event = try framing.next(&input) { events.append(event) }
        #expect(events == [
            .opened(4, SPDYHeaders([("streamtype", "error")]), finished: false),
            .opened(1, SPDYHeaders([("streamtype", "stdin")]), finished: false),
            .opened(2, SPDYHeaders([("streamtype", "stdout")]), finished: false),
            .data(1, Array("hel".utf8), finished: false),
            .data(1, Array("lo".utf8), finished: false),
            .answer([0x8A, 1, 7]),
            .finished(1),
        ])
        #expect(framing.data(Array("out".utf8)[...], on: 2) == [0x82, 4, 1] + Array("out".utf8))
        #expect(framing.finish(2).isEmpty)
        #expect(framing.goodbye(lastStream: 0, protocolError: false) == [0x88, 2, 0x03, 0xE8])
        var text = ByteQueue(maskedFrame(1, Array("x".utf8)))
        #expect(throws: FramingError.self) { try WebSocketChannelFraming(version: 4, roles: []).next(&text) }
    }

    @Test("SPDY tunnelled in WebSocket messages: frames split across messages join, answers are wrapped")
    func tunnel() throws {
        let client = try #require(SPDYFramer())
        let server = try #require(SPDYFramer())
        let framing = WebSocketTunnelFraming(inner: SPDYFraming(framer: server))
        let spdy = client.encode(.synStream(streamID: 1, associatedTo: 0, priority: 0, flags: 0,
                                            headers: SPDYHeaders([("streamtype", "data"), ("port", "80"), ("requestid", "0")])))
            + client.encode(.ping(id: 3))
        var input = ByteQueue(maskedFrame(2, Array(spdy.prefix(7))) + maskedFrame(2, Array(spdy.dropFirst(7))))
        let opened = try framing.next(&input)
        #expect(opened == .opened(1, SPDYHeaders([("streamtype", "data"), ("port", "80"), ("requestid", "0")]), finished: false))
        let pong = try framing.next(&input)
        #expect(pong == .answer(WebSocketCodec.encode(.binary, client.encode(.ping(id: 3)))))
        #expect(try framing.next(&input) == nil)
        let reply = framing.accept(1)
        #expect(reply.first == 0x82 && Int(reply[1]) == reply.count - 2)
    }

    @Test("exec over WebSocket (v5): output on channels, stdin closed by the close signal, status on channel 3")
    func execOverWebSocket() async throws {
        let server = try StreamingServerTests.makeServer()
        let url = try server.url(for: .exec(.init(containerID: "c", command: ["cat"], tty: false, stdin: true, stdout: true, stderr: false)))
        let port = server.port
        let reply = try await blocking { () -> (head: String, body: [UInt8]) in
            let fd = try StreamingClient.connect(host: "127.0.0.1", port: port)
            defer { close(fd) }
            let path = String(url.dropFirst(server.baseURL.count))
            let request = "GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io\r\n\r\n"
            _ = SocketIO.writeAll(fd, Array(request.utf8) + maskedFrame(2, [0] + Array("hi there".utf8)) + maskedFrame(2, [255, 0]),
                                  deadline: ContinuousClock.now + .seconds(5))
            var received: [UInt8] = []
            // A hang guard only: the read ends when the server closes, which a loaded host may delay.
            let deadline = ContinuousClock.now + .seconds(60)
            while SocketIO.wait(fd, events: Int16(POLLIN), until: deadline), case .bytes(let more) = SocketIO.read(fd, limit: 65536) {
                received += more
            }
            let headEnd = (try? HTTPRequestHead.end(in: received, limit: 1 << 20)) ?? nil ?? 0
            return (String(decoding: received[..<headEnd], as: UTF8.self), Array(received[headEnd...]))
        }
        #expect(reply.head.hasPrefix("HTTP/1.1 101"))
        #expect(reply.head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
        #expect(reply.head.contains("Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n"))
        // Server frames: [0x82, length, channel, payload...], then a close frame.
        var frames: [(UInt8, [UInt8])] = []
        var offset = 0
        let body = reply.body
        while offset + 2 <= body.count {
            let length = Int(body[offset + 1])
            guard length < 126, offset + 2 + length <= body.count else { break }
            frames.append((body[offset] & 0x0f, Array(body[(offset + 2)..<(offset + 2 + length)])))
            offset += 2 + length
        }
        #expect(frames.first.map { $0.0 == 2 && $0.1 == [1] + Array("hi there".utf8) } == true, "\(frames)")
        #expect(frames.contains { $0.0 == 2 && $0.1 == [3] + Array(#"{"metadata":{},"status":"Success"}"#.utf8) }, "\(frames)")
        #expect(frames.last.map { $0.0 == 8 && $0.1 == [0x03, 0xE8] } == true, "\(frames)")
        await server.shutdown()
    }
}
