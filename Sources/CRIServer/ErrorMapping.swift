import CRIAPI
import FascoCore
import GRPCTransport

extension GRPCStatus {
    /// The one mapping from an error thrown under a CRI handler to the status the client sees.
    init(mapping error: any Error) {
        switch error {
        case let status as GRPCStatus:
            self = status
        case let error as FascoError:
            self.init(Self.code(for: error.code), error.message)
        case let error as CRIDecodingError:
            self.init(.invalidArgument, error.description)
        case is CancellationError:
            self.init(.cancelled, "the call was cancelled")
        default:
            self.init(.internal, String(describing: error))
        }
    }

    static func code(for code: FascoError.Code) -> GRPCStatus.Code {
        switch code {
        case .invalidArgument: .invalidArgument
        case .notFound: .notFound
        case .alreadyExists: .alreadyExists
        case .failedPrecondition: .failedPrecondition
        case .resourceExhausted: .resourceExhausted
        case .unavailable: .unavailable
        case .deadlineExceeded: .deadlineExceeded
        case .unimplemented: .unimplemented
        case .unauthenticated: .unauthenticated
        case .permissionDenied: .permissionDenied
        case .internal: .internal
        }
    }
}

extension FascoError: FascoErrorCause {
    var causeText: String? { cause.map { String(describing: $0) } }
}
