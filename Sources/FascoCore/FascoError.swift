/// The one error type of Fasco's own layers (RealmCore, ImageStore, the CRI handlers).
///
/// Handlers throw it; `CRIServer` maps it to a gRPC status in one place.
public struct FascoError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        case invalidArgument
        case notFound
        case alreadyExists
        case failedPrecondition
        case resourceExhausted
        case unavailable
        case deadlineExceeded
        case unimplemented
        case unauthenticated
        case permissionDenied
        case `internal`
    }

    public var code: Code
    public var message: String
    /// What went wrong underneath, for logs; never required to understand `message`.
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        guard let cause else { return message }
        return "\(message): \(cause)"
    }

    public static func invalidArgument(_ message: String) -> FascoError { FascoError(.invalidArgument, message) }
    public static func notFound(_ message: String) -> FascoError { FascoError(.notFound, message) }
    public static func alreadyExists(_ message: String) -> FascoError { FascoError(.alreadyExists, message) }
    public static func failedPrecondition(_ message: String) -> FascoError { FascoError(.failedPrecondition, message) }
    public static func unimplemented(_ message: String) -> FascoError { FascoError(.unimplemented, message) }
    public static func resourceExhausted(_ message: String) -> FascoError { FascoError(.resourceExhausted, message) }
    public static func unavailable(_ message: String, cause: (any Error)? = nil) -> FascoError {
        FascoError(.unavailable, message, cause: cause)
    }
    public static func unauthenticated(_ message: String) -> FascoError { FascoError(.unauthenticated, message) }
    public static func permissionDenied(_ message: String) -> FascoError { FascoError(.permissionDenied, message) }
    public static func `internal`(_ message: String, cause: (any Error)? = nil) -> FascoError {
        FascoError(.internal, message, cause: cause)
    }
}

extension Result where Failure == FascoError {
    /// What `body` returned or threw, as a value: for a task whose outcome is awaited later,
    /// and which must not lose its error to `Task`'s untyped throws.
    public static func of(_ body: () async throws(FascoError) -> Success) async -> Result<Success, FascoError> {
        do throws(FascoError) {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }
}
