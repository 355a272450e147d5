import CRIAPI
import GRPCTransport

extension CRIService {
    /// Kills the container if it runs and removes it with its root filesystem; unknown IDs succeed.
    public func removeContainer(_ request: RemoveContainerRequest, context: ServerContext) async throws -> RemoveContainerResponse {
        try await realms.removeContainer(request.containerID)
        return RemoveContainerResponse()
    }
}
