import CRIAPI
import GRPCTransport

extension CRIService {
    /// Stops the pod if needed and removes it with its containers; unknown IDs succeed.
    public func removePodSandbox(_ request: RemovePodSandboxRequest, context: ServerContext) async throws -> RemovePodSandboxResponse {
        try await realms.removeSystemRealm(request.podSandboxID)
        return RemovePodSandboxResponse()
    }
}
