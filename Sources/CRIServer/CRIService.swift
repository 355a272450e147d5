import CRIAPI
import FascoCore
import GRPCTransport
import ImageStore
import Logging

/// Fasco's CRI v1 RuntimeService and ImageService: one file per RPC
/// (`Version.swift`, `Status.swift`, ...), each validating, delegating and rendering.
public struct CRIService: RuntimeServiceHandler, ImageServiceHandler {
    /// The CRI API version this runtime speaks.
    public static let apiVersion = "v1"
    /// The runtime name reported by Version.
    public static let runtimeName = "fasco"

    let environment: RuntimeEnvironment
    let images: ImageStore
    let logger: Logger

    public init(environment: RuntimeEnvironment, images: ImageStore, logger: Logger) {
        self.environment = environment
        self.images = images
        self.logger = logger
    }

    /// Both CRI services' route tables and Fasco's admin API, each RPC wrapped in the one interceptor.
    public func routes() -> [ServerMethod] {
        let interceptor = RPCInterceptor(logger: logger)
        return (self as any RuntimeServiceHandler).routes(interceptor: interceptor)
            + (self as any ImageServiceHandler).routes(interceptor: interceptor)
            + AdminService(images: images).routes(interceptor: interceptor)
    }

    /// The error for an RPC whose issue has not landed yet.
    static func notYet(_ rpc: String) -> FascoError {
        .unimplemented("\(rpc) is not implemented by Fasco yet")
    }
}

extension CRIService {
    /// The status a client sees for `error` thrown under a handler (the one mapping, exposed for tests).
    public static func status(for error: any Error) -> GRPCStatus {
        GRPCStatus(mapping: error)
    }
}
