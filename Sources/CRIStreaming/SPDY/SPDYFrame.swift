/// A SPDY/3 frame (SPDY protocol draft 3, section 2.2 framing, 2.6 control frames), as the
/// Kubernetes streaming protocols use it over an upgraded HTTP/1.1 connection ("SPDY/3.1").
enum SPDYFrame: Sendable, Equatable {
    /// Flag bits: FLAG_FIN on data and stream frames, FLAG_UNIDIRECTIONAL on SYN_STREAM.
    static let finFlag: UInt8 = 0x01
    static let unidirectionalFlag: UInt8 = 0x02

    case synStream(streamID: UInt32, associatedTo: UInt32, priority: UInt8, flags: UInt8, headers: SPDYHeaders)
    case synReply(streamID: UInt32, flags: UInt8, headers: SPDYHeaders)
    case rstStream(streamID: UInt32, status: RstStatus)
    /// The settings' (id, value) pairs; Fasco ignores them.
    case settings(count: Int)
    case ping(id: UInt32)
    case goAway(lastGoodStreamID: UInt32, status: UInt32)
    case headers(streamID: UInt32, flags: UInt8, headers: SPDYHeaders)
    case windowUpdate(streamID: UInt32, delta: UInt32)
    case data(streamID: UInt32, flags: UInt8, payload: [UInt8])
    /// A control frame of a type this draft does not define: ignored (section 2.2.1).
    case unknownControl(type: UInt16)

    /// Control frame types (section 2.6).
    enum ControlType: UInt16 {
        case synStream = 1, synReply = 2, rstStream = 3, settings = 4, ping = 6, goAway = 7, headers = 8, windowUpdate = 9
    }

    /// RST_STREAM status codes (section 2.6.3).
    struct RstStatus: RawRepresentable, Sendable, Equatable {
        var rawValue: UInt32
        static let protocolError = RstStatus(rawValue: 1)
        static let invalidStream = RstStatus(rawValue: 2)
        static let refusedStream = RstStatus(rawValue: 3)
        static let cancel = RstStatus(rawValue: 5)
        static let internalError = RstStatus(rawValue: 6)
        static let streamInUse = RstStatus(rawValue: 8)
        static let streamAlreadyClosed = RstStatus(rawValue: 9)
        static let frameTooLarge = RstStatus(rawValue: 11)
    }

    /// GOAWAY status codes (section 2.6.6).
    static let goAwayOK: UInt32 = 0
    static let goAwayProtocolError: UInt32 = 1
    static let goAwayInternalError: UInt32 = 2
}
