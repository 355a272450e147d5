import CRIAPI
import GRPCTransport

extension CRIService {
    /// Kills the pod's containers and takes its network down; unknown IDs succeed (CRI idempotence).
    public func stopPodSandbox(_ request: StopPodSandboxRequest, context: ServerContext) async throws -> StopPodSandboxResponse {
        try await realms.stopSystemRealm(request.podSandboxID)
        return StopPodSandboxResponse()
    }
}
