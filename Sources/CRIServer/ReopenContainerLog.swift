import CRIAPI
import GRPCTransport

extension CRIService {
    /// Reopens a running container's log file (kubelet rotates it away first).
    public func reopenContainerLog(_ request: ReopenContainerLogRequest, context: ServerContext) async throws -> ReopenContainerLogResponse {
        try await realms.reopenLog(request.containerID)
        return ReopenContainerLogResponse()
    }
}
