import CRIAPI
import GRPCTransport
import Logging
import Metrics

/// Every CRI call passes through here once: the error mapping, the one log line per RPC and
/// its latency (`fasco_rpc_duration_seconds{method, code}`, with the final gRPC code).
struct RPCInterceptor: CRICallInterceptor {
    /// The RPC latency histogram (swift-metrics Timer; a Prometheus histogram in seconds when served).
    static let durationMetric = "fasco_rpc_duration_seconds"

    let logger: Logger

    func intercept<Response: Sendable>(rpc: String, context: ServerContext, _ body: () async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await body()
            log(rpc: rpc, status: GRPCStatus(.ok), since: start)
            return response
        } catch {
            let status = GRPCStatus(mapping: error)
            log(rpc: rpc, status: status, since: start, cause: (error as? FascoErrorCause)?.causeText)
            throw status
        }
    }

    private func log(rpc: String, status: GRPCStatus, since start: ContinuousClock.Instant, cause: String? = nil) {
        let elapsed = ContinuousClock.now - start
        Metrics.Timer(label: Self.durationMetric, dimensions: [("method", rpc), ("code", status.code.name)]).record(duration: elapsed)
        let micros = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        var metadata: Logger.Metadata = [
            "rpc": "\(rpc)",
            "code": "\(status.code.name)",
            "duration_us": "\(micros)",
        ]
        if !status.message.isEmpty { metadata["message"] = "\(status.message)" }
        if let cause { metadata["cause"] = "\(cause)" }
        logger.log(level: Self.level(for: status.code), "rpc", metadata: metadata)
    }

    /// Successful calls are routine (kubelet polls); client mistakes are worth a line; our faults are errors.
    static func level(for code: GRPCStatus.Code) -> Logger.Level {
        switch code {
        case .ok: .debug
        case .internal, .unknown, .dataLoss: .error
        default: .info
        }
    }
}

/// Errors that carry an underlying cause worth logging but not sending to the client.
protocol FascoErrorCause {
    var causeText: String? { get }
}
