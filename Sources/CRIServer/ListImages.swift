import CRIAPI
import GRPCTransport

extension CRIService {
    public func listImages(_ request: ListImagesRequest, context: ServerContext) async throws -> ListImagesResponse {
        let all = await images.images
        guard let name = request.filter?.image?.image, !name.isEmpty else {
            return ListImagesResponse(images: all.map(Self.render))
        }
        // A filter that names no image lists nothing (an invalid name included).
        guard let match = await images.image(name) else { return ListImagesResponse() }
        return ListImagesResponse(images: [Self.render(match)])
    }
}
