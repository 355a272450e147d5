/// What a server knows about one call while handling it.
public struct ServerContext: Sendable {
    /// The full method path, `/package.Service/Method`.
    public let method: String
    /// When the client stops waiting; nil when it set no deadline.
    public let deadline: ContinuousClock.Instant?

    public init(method: String, deadline: ContinuousClock.Instant?) {
        self.method = method
        self.deadline = deadline
    }
}

/// One routed method of a gRPC server, working on raw message bytes.
///
/// Handlers throw `GRPCStatus` to choose the status; `CancellationError` becomes
/// CANCELLED and anything else UNKNOWN.
public struct ServerMethod: Sendable {
    public typealias Unary = @Sendable ([UInt8], ServerContext) async throws -> [UInt8]
    public typealias ServerStreaming = @Sendable ([UInt8], ServerContext, ServerStreamWriter) async throws -> Void

    public enum Kind: Sendable {
        case unary(Unary)
        case serverStreaming(ServerStreaming)
    }

    public let path: String
    public let kind: Kind

    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }

    public static func unary(_ path: String, _ handler: @escaping Unary) -> ServerMethod {
        ServerMethod(path: path, kind: .unary(handler))
    }

    public static func serverStreaming(_ path: String, _ handler: @escaping ServerStreaming) -> ServerMethod {
        ServerMethod(path: path, kind: .serverStreaming(handler))
    }
}

/// The sending side of a server-streaming call. Sends complete one at a time:
/// `send` returns once the core has taken the message.
public final class ServerStreamWriter: Sendable {
    private let call: ServerCall

    init(call: ServerCall) { self.call = call }

    /// Sends one message; throws CANCELLED when the client has gone away.
    public func send(_ message: [UInt8]) async throws {
        try await call.sendStreamMessage(message)
    }
}
