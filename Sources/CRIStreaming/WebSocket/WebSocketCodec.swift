import FascoCore

/// WebSocket frames (RFC 6455 section 5): what a server reads (masked client frames, no
/// extensions) and writes (unmasked).
enum WebSocketCodec {
    enum Opcode: UInt8 {
        case continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10
    }

    struct Frame: Equatable {
        var fin: Bool
        var opcode: Opcode
        var payload: [UInt8]
    }

    /// Close status codes (section 7.4.1).
    static let normalClosure: UInt16 = 1000
    static let protocolError: UInt16 = 1002
    static let unsupportedData: UInt16 = 1003
    static let tooBig: UInt16 = 1009

    /// The GUID of the handshake (section 1.3).
    static let handshakeGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    static func accept(key: String) -> String {
        Base64URL.encodeStandard(SHA1.hash(Array((key + handshakeGUID).utf8)))
    }

    /// The next frame at the front of `input` (removed), nil when incomplete. Payloads above
    /// `maxPayload`, unmasked frames, reserved bits and malformed control frames are errors.
    static func parse(_ input: inout ByteQueue, maxPayload: Int) throws(FramingError) -> Frame? {
        guard input.count >= 2 else { return nil }
        let first = input[0]
        let second = input[1]
        guard first & 0x70 == 0 else { throw FramingError("WebSocket frame with reserved bits set (no extension was negotiated)") }
        guard let opcode = Opcode(rawValue: first & 0x0f) else { throw FramingError("WebSocket opcode \(first & 0x0f) is reserved") }
        guard second & 0x80 != 0 else { throw FramingError("a client's WebSocket frame must be masked") }
        let fin = first & 0x80 != 0
        var length = Int(second & 0x7f)
        var offset = 2
        if length == 126 {
            guard input.count >= 4 else { return nil }
            length = Int(input[2]) << 8 | Int(input[3])
            offset = 4
        } else if length == 127 {
            guard input.count >= 10 else { return nil }
            var value: UInt64 = 0
            for index in 2..<10 { value = value << 8 | UInt64(input[index]) }
            guard value <= UInt64(maxPayload) else { throw FramingError("WebSocket frame of \(value) bytes exceeds \(maxPayload)") }
            length = Int(value)
            offset = 10
        }
        guard length <= maxPayload else { throw FramingError("WebSocket frame of \(length) bytes exceeds \(maxPayload)") }
        if opcode.rawValue >= 8 {
            guard fin, length <= 125 else { throw FramingError("a WebSocket control frame must be final and at most 125 bytes") }
        }
        guard input.count >= offset + 4 + length else { return nil }
        let mask = input.bytes(at: offset, length: 4)
        var payload = input.bytes(at: offset + 4, length: length)
        for index in payload.indices { payload[index] ^= mask[index & 3] }
        input.removeFirst(offset + 4 + length)
        return Frame(fin: fin, opcode: opcode, payload: payload)
    }

    /// A final, unmasked frame.
    static func encode(_ opcode: Opcode, _ payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0x80 | opcode.rawValue]
        if payload.count < 126 {
            bytes.append(UInt8(payload.count))
        } else if payload.count <= 0xffff {
            bytes += [126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        } else {
            bytes.append(127)
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: UInt64(payload.count) >> UInt64(shift))) }
        }
        return bytes + payload
    }

    static func close(_ code: UInt16) -> [UInt8] {
        encode(.close, [UInt8(code >> 8), UInt8(code & 0xff)])
    }
}
