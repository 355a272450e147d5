import CRIAPI
import CRIStreaming
import FascoCore
import GRPCTransport
import ImageStore
import Logging
import RealmCore

/// Fasco's CRI v1 RuntimeService and ImageService: one file per RPC
/// (`Version.swift`, `Status.swift`, ...), each validating, delegating and rendering.
public struct CRIService: RuntimeServiceHandler, ImageServiceHandler {
    /// The CRI API version this runtime speaks.
    public static let apiVersion = "v1"
    /// The runtime name reported by Version.
    public static let runtimeName = "fasco"

    let environment: RuntimeEnvironment
    let images: ImageStore
    /// The realms pods and containers run as; nil in a server that only serves images.
    let realmManager: RealmManager?
    /// Where Exec, Attach and PortForward URLs are redeemed; nil in a server without one.
    let streamingServer: StreamingServer?
    let logger: Logger

    public init(environment: RuntimeEnvironment, images: ImageStore, realms: RealmManager? = nil, streaming: StreamingServer? = nil,
                logger: Logger) {
        self.environment = environment
        self.images = images
        self.realmManager = realms
        self.streamingServer = streaming
        self.logger = logger
    }

    /// The realm manager, or UNAVAILABLE when this server runs without a backend.
    var realms: RealmManager {
        get throws(FascoError) {
            guard let realmManager else { throw .unavailable("this Fasco server runs without a realm backend") }
            return realmManager
        }
    }

    /// Both CRI services' route tables and Fasco's admin API, each RPC wrapped in the one interceptor.
    public func routes() -> [ServerMethod] {
        let interceptor = RPCInterceptor(logger: logger)
        return (self as any RuntimeServiceHandler).routes(interceptor: interceptor)
            + (self as any ImageServiceHandler).routes(interceptor: interceptor)
            + AdminService(images: images, realms: realmManager).routes(interceptor: interceptor)
    }

    /// The streaming server, or UNAVAILABLE when this server has none.
    var streaming: StreamingServer {
        get throws(FascoError) {
            guard let streamingServer else { throw .unavailable("this Fasco server has no streaming server") }
            return streamingServer
        }
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
