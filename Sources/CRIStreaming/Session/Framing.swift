/// How a connection's bytes become stream events and back: SPDY/3.1 frames, WebSocket
/// channels (remotecommand over WebSocket), or SPDY tunnelled in WebSocket messages.
/// Handlers see the same streams whatever the framing.
protocol Framing: AnyObject {
    /// The next event in `input` (consumed from it), nil when more bytes are needed.
    func next(_ input: inout ByteQueue) throws(FramingError) -> FramingEvent?
    /// Bytes that reply to a new client stream (SPDY's SYN_REPLY), if the framing has any.
    func accept(_ stream: UInt32) -> [UInt8]
    /// `payload` on `stream` (at most `maxChunk` bytes; the connection splits larger ones).
    func data(_ payload: ArraySlice<UInt8>, on stream: UInt32) -> [UInt8]
    /// Fasco's side of `stream` ends.
    func finish(_ stream: UInt32) -> [UInt8]
    func reset(_ stream: UInt32, status: SPDYFrame.RstStatus) -> [UInt8]
    /// The last words before closing.
    func goodbye(lastStream: UInt32, protocolError: Bool) -> [UInt8]
    /// The largest payload one `data` call carries.
    var maxChunk: Int { get }
}

/// A connection-level violation: answered with the framing's goodbye and a close.
struct FramingError: Error, Sendable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum FramingEvent: Equatable {
    /// The client opened a stream (finished: it will send nothing on it).
    case opened(UInt32, SPDYHeaders, finished: Bool)
    case data(UInt32, [UInt8], finished: Bool)
    case finished(UInt32)
    case reset(UInt32)
    /// Bytes to send back at once (a PING or a pong).
    case answer([UInt8])
    /// The client is leaving.
    case goAway
    /// Nothing for anyone (settings, flow control, unknown frames).
    case ignored
}
