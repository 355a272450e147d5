/// Reads and writes SPDY/3 frames on one connection, holding its two header-compression
/// contexts. Every length is checked before anything is allocated for it.
final class SPDYFramer {
    /// The protocol version in every control frame.
    static let version: UInt16 = 3

    struct Limits: Sendable {
        /// The largest control frame payload accepted (header blocks are small).
        var maxControlPayload = 64 << 10
        /// The largest DATA payload accepted (clients send at most 32 KiB per write).
        var maxDataPayload = 1 << 20
        /// The largest header block once decompressed, and its number of fields.
        var maxHeaderBlock = 64 << 10
        var maxHeaderFields = 64
        /// The largest DATA payload sent.
        var sendChunk = 32 << 10
    }

    /// A connection-level violation: answered with GOAWAY and a close.
    struct ProtocolError: Error, Sendable, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    let limits: Limits
    private let inflater: HeaderCompression
    private let deflater: HeaderCompression

    init?(limits: Limits = Limits()) {
        guard let inflater = HeaderCompression(.decompress), let deflater = HeaderCompression(.compress) else { return nil }
        self.limits = limits
        self.inflater = inflater
        self.deflater = deflater
    }

    // MARK: reading

    /// The next complete frame at the front of `input` (removed from it), nil when more bytes are needed.
    func parse(_ input: inout ByteQueue) throws(ProtocolError) -> SPDYFrame? {
        guard input.count >= 8 else { return nil }
        let first = input.uint32(at: 0)
        let second = input.uint32(at: 4)
        let flags = UInt8(second >> 24)
        let length = Int(second & 0x00ff_ffff)
        let isControl = first & 0x8000_0000 != 0
        if isControl {
            guard length <= limits.maxControlPayload else { throw ProtocolError("control frame of \(length) bytes exceeds \(limits.maxControlPayload)") }
        } else {
            guard length <= limits.maxDataPayload else { throw ProtocolError("data frame of \(length) bytes exceeds \(limits.maxDataPayload)") }
        }
        guard input.count >= 8 + length else { return nil }
        let payload = input.bytes(at: 8, length: length)
        input.removeFirst(8 + length)
        if !isControl {
            let streamID = first & 0x7fff_ffff
            guard streamID != 0 else { throw ProtocolError("data frame on stream 0") }
            return .data(streamID: streamID, flags: flags, payload: payload)
        }
        let version = UInt16((first >> 16) & 0x7fff)
        guard version == Self.version else { throw ProtocolError("SPDY version \(version) is not 3") }
        let rawType = UInt16(first & 0xffff)
        guard let type = SPDYFrame.ControlType(rawValue: rawType) else { return .unknownControl(type: rawType) }
        return try control(type, flags: flags, payload: payload)
    }

    private func control(_ type: SPDYFrame.ControlType, flags: UInt8, payload: [UInt8]) throws(ProtocolError) -> SPDYFrame {
        func word(_ offset: Int) -> UInt32 {
            UInt32(payload[offset]) << 24 | UInt32(payload[offset + 1]) << 16 | UInt32(payload[offset + 2]) << 8 | UInt32(payload[offset + 3])
        }
        func requireLength(_ length: Int, exact: Bool = true) throws(ProtocolError) {
            guard exact ? payload.count == length : payload.count >= length else {
                throw ProtocolError("\(type) frame has a payload of \(payload.count) bytes")
            }
        }
        switch type {
        case .synStream:
            try requireLength(10, exact: false)
            let streamID = word(0) & 0x7fff_ffff
            guard streamID != 0 else { throw ProtocolError("SYN_STREAM for stream 0") }
            let headers = try headerBlock(Array(payload[10...]))
            return .synStream(streamID: streamID, associatedTo: word(4) & 0x7fff_ffff, priority: payload[8] >> 5, flags: flags, headers: headers)
        case .synReply, .headers:
            try requireLength(4, exact: false)
            let streamID = word(0) & 0x7fff_ffff
            guard streamID != 0 else { throw ProtocolError("\(type) for stream 0") }
            let headers = try headerBlock(Array(payload[4...]))
            return type == .synReply ? .synReply(streamID: streamID, flags: flags, headers: headers)
                : .headers(streamID: streamID, flags: flags, headers: headers)
        case .rstStream:
            try requireLength(8)
            return .rstStream(streamID: word(0) & 0x7fff_ffff, status: .init(rawValue: word(4)))
        case .settings:
            try requireLength(4, exact: false)
            let count = Int(word(0))
            guard payload.count == 4 + 8 * count else { throw ProtocolError("SETTINGS frame with \(count) entries has \(payload.count) bytes") }
            return .settings(count: count)
        case .ping:
            try requireLength(4)
            return .ping(id: word(0))
        case .goAway:
            try requireLength(8)
            return .goAway(lastGoodStreamID: word(0) & 0x7fff_ffff, status: word(4))
        case .windowUpdate:
            try requireLength(8)
            return .windowUpdate(streamID: word(0) & 0x7fff_ffff, delta: word(4) & 0x7fff_ffff)
        }
    }

    /// Decompresses and parses a header block; a corrupt block breaks the shared zlib context,
    /// so it is a connection error.
    private func headerBlock(_ compressed: [UInt8]) throws(ProtocolError) -> SPDYHeaders {
        guard let plain = inflater.run(compressed, limit: limits.maxHeaderBlock) else {
            throw ProtocolError("header block is corrupt or inflates past \(limits.maxHeaderBlock) bytes")
        }
        guard let headers = SPDYHeaders.decode(plain, maxFields: limits.maxHeaderFields) else {
            throw ProtocolError("malformed header block")
        }
        return headers
    }

    // MARK: writing

    /// The frame's bytes. DATA payloads must not exceed 2^24 - 1 bytes (callers send at most `sendChunk`).
    func encode(_ frame: SPDYFrame) -> [UInt8] {
        switch frame {
        case .data(let streamID, let flags, let payload):
            var bytes: [UInt8] = []
            bytes.reserveCapacity(8 + payload.count)
            bytes.appendUInt32(streamID & 0x7fff_ffff)
            bytes.append(flags)
            bytes.appendUInt24(UInt32(payload.count))
            bytes += payload
            return bytes
        case .synStream(let streamID, let associatedTo, let priority, let flags, let headers):
            var payload: [UInt8] = []
            payload.appendUInt32(streamID & 0x7fff_ffff)
            payload.appendUInt32(associatedTo & 0x7fff_ffff)
            payload += [priority << 5, 0]
            payload += compressed(headers)
            return control(.synStream, flags: flags, payload: payload)
        case .synReply(let streamID, let flags, let headers):
            var payload: [UInt8] = []
            payload.appendUInt32(streamID & 0x7fff_ffff)
            payload += compressed(headers)
            return control(.synReply, flags: flags, payload: payload)
        case .headers(let streamID, let flags, let headers):
            var payload: [UInt8] = []
            payload.appendUInt32(streamID & 0x7fff_ffff)
            payload += compressed(headers)
            return control(.headers, flags: flags, payload: payload)
        case .rstStream(let streamID, let status):
            var payload: [UInt8] = []
            payload.appendUInt32(streamID & 0x7fff_ffff)
            payload.appendUInt32(status.rawValue)
            return control(.rstStream, flags: 0, payload: payload)
        case .settings:
            return control(.settings, flags: 0, payload: [0, 0, 0, 0])
        case .ping(let id):
            var payload: [UInt8] = []
            payload.appendUInt32(id)
            return control(.ping, flags: 0, payload: payload)
        case .goAway(let lastGoodStreamID, let status):
            var payload: [UInt8] = []
            payload.appendUInt32(lastGoodStreamID & 0x7fff_ffff)
            payload.appendUInt32(status)
            return control(.goAway, flags: 0, payload: payload)
        case .windowUpdate(let streamID, let delta):
            var payload: [UInt8] = []
            payload.appendUInt32(streamID & 0x7fff_ffff)
            payload.appendUInt32(delta & 0x7fff_ffff)
            return control(.windowUpdate, flags: 0, payload: payload)
        case .unknownControl:
            return []
        }
    }

    private func control(_ type: SPDYFrame.ControlType, flags: UInt8, payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0x80 | UInt8(Self.version >> 8), UInt8(Self.version & 0xff), UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xff), flags]
        bytes.appendUInt24(UInt32(payload.count))
        return bytes + payload
    }

    private func compressed(_ headers: SPDYHeaders) -> [UInt8] {
        // The compressor only fails when out of memory; an empty block then still parses as zlib garbage
        // on the peer, which closes the connection: nothing Fasco relies on.
        deflater.run(headers.encoded(), limit: 1 << 20) ?? []
    }
}
