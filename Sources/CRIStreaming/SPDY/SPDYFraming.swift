/// SPDY/3.1 as a `Framing`: client streams must be odd and increasing; PINGs from the
/// client are echoed; SETTINGS and WINDOW_UPDATE are ignored (no flow control, as with the
/// Go spdystream peers).
final class SPDYFraming: Framing {
    let framer: SPDYFramer
    private var lastClientStream: UInt32 = 0

    init(framer: SPDYFramer) {
        self.framer = framer
    }

    var maxChunk: Int { framer.limits.sendChunk }

    func next(_ input: inout ByteQueue) throws(FramingError) -> FramingEvent? {
        let frame: SPDYFrame?
        do { frame = try framer.parse(&input) } catch { throw FramingError(error.description) }
        guard let frame else { return nil }
        switch frame {
        case .synStream(let id, _, _, let flags, let headers):
            // Client streams are odd and increasing (SPDY draft 3, section 2.3.2).
            guard id & 1 == 1, id > lastClientStream else {
                return .answer(framer.encode(.rstStream(streamID: id, status: .protocolError)))
            }
            lastClientStream = id
            return .opened(id, headers, finished: flags & SPDYFrame.finFlag != 0)
        case .data(let id, let flags, let payload):
            return .data(id, payload, finished: flags & SPDYFrame.finFlag != 0)
        case .rstStream(let id, _):
            return .reset(id)
        case .headers(let id, let flags, _):
            return flags & SPDYFrame.finFlag != 0 ? .finished(id) : .ignored
        case .ping(let id):
            // Answer the client's pings (odd IDs); even IDs would be answers to ours.
            return id & 1 == 1 ? .answer(framer.encode(.ping(id: id))) : .ignored
        case .goAway:
            return .goAway
        case .synReply, .settings, .windowUpdate, .unknownControl:
            return .ignored
        }
    }

    func accept(_ stream: UInt32) -> [UInt8] {
        framer.encode(.synReply(streamID: stream, flags: 0, headers: SPDYHeaders()))
    }

    func data(_ payload: ArraySlice<UInt8>, on stream: UInt32) -> [UInt8] {
        framer.encode(.data(streamID: stream, flags: 0, payload: Array(payload)))
    }

    func finish(_ stream: UInt32) -> [UInt8] {
        framer.encode(.data(streamID: stream, flags: SPDYFrame.finFlag, payload: []))
    }

    func reset(_ stream: UInt32, status: SPDYFrame.RstStatus) -> [UInt8] {
        framer.encode(.rstStream(streamID: stream, status: status))
    }

    func goodbye(lastStream: UInt32, protocolError: Bool) -> [UInt8] {
        framer.encode(.goAway(lastGoodStreamID: lastStream, status: protocolError ? SPDYFrame.goAwayProtocolError : SPDYFrame.goAwayOK))
    }
}
