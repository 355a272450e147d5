import CRIAPI
import GRPCTransport

extension CRIService {
    /// Removes the image with all its names (as containerd does); an unknown image succeeds.
    /// Content that a container still uses stays until that container is removed.
    public func removeImage(_ request: RemoveImageRequest, context: ServerContext) async throws -> RemoveImageResponse {
        let name = try Self.imageName(request.image)
        try await images.remove(name)
        return RemoveImageResponse()
    }
}
