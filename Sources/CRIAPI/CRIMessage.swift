import GRPCTransport

/// A CRI message: a value type that converts to and from protobuf wire bytes.
public protocol CRIMessage: Sendable, Equatable {
    init()
    /// Decodes wire bytes; hostile input yields `CRIDecodingError`, never a crash.
    static func decode(_ bytes: [UInt8]) throws(CRIDecodingError) -> Self
    /// Encodes to wire bytes (map entries in key order, so equal values encode equally).
    func encode() -> [UInt8]
}

/// Bytes that do not decode as the expected CRI message.
public struct CRIDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var messageType: String
    public var byteCount: Int

    public init(messageType: String, byteCount: Int) {
        self.messageType = messageType
        self.byteCount = byteCount
    }

    public var description: String {
        "\(byteCount) bytes do not decode as runtime.v1.\(messageType)"
    }
}

extension CRIMessage {
    /// Decodes a response received by a client; undecodable bytes are the server's fault.
    static func decodeResponse(_ bytes: [UInt8]) throws(GRPCStatus) -> Self {
        do {
            return try decode(bytes)
        } catch {
            throw GRPCStatus(.internal, "response: \(error)")
        }
    }
}

/// The one place every CRI call passes through on the server: the handler layer
/// supplies it (logging, error mapping) and the generated route tables call it.
public protocol CRICallInterceptor: Sendable {
    func intercept<Response: Sendable>(rpc: String, context: ServerContext, _ body: () async throws -> Response) async throws -> Response
}

/// Typed sending side of a server-streaming CRI call.
public struct ResponseStream<Message: CRIMessage>: Sendable {
    let writer: ServerStreamWriter

    init(_ writer: ServerStreamWriter) { self.writer = writer }

    /// Sends one response; throws when the client has gone away.
    public func send(_ message: Message) async throws {
        try await writer.send(message.encode())
    }
}
