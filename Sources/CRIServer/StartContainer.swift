import CRIAPI
import GRPCTransport

extension CRIService {
    public func startContainer(_ request: StartContainerRequest, context: ServerContext) async throws -> StartContainerResponse {
        try await realms.startContainer(request.containerID)
        return StartContainerResponse()
    }
}
