/// The protocol spoken over an upgraded connection (remote command or port forwarding): the
/// connection calls it, on the session thread, for every stream event, relay event and message.
protocol SessionHandler: AnyObject {
    /// A stream the client opened; the handler replies (`connection.accept`) or resets it.
    func opened(_ stream: UInt32, headers: SPDYHeaders, finished: Bool, on connection: StreamingConnection)
    func received(_ bytes: [UInt8], on stream: UInt32, connection: StreamingConnection)
    /// The client will send no more on `stream` (FIN).
    func finished(_ stream: UInt32, connection: StreamingConnection)
    /// The client reset `stream`.
    func reset(_ stream: UInt32, connection: StreamingConnection)
    /// A relay's read side ended: end of file (`error` nil) or an error.
    func readEnded(_ relay: Relay, error: Int32?, connection: StreamingConnection)
    /// Writing to a relay failed; its write side has ended.
    func writeFailed(_ relay: Relay, error: Int32, connection: StreamingConnection)
    func deliver(_ mail: SessionMail, connection: StreamingConnection)
    /// Called at least once a second: timeouts.
    func tick(_ now: ContinuousClock.Instant, connection: StreamingConnection)
    /// The client is gone (end of file, error, GOAWAY) or the session is closing: release everything.
    func ended(connection: StreamingConnection)
}
