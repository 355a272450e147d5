import CRIAPI
import FascoCore
import GRPCTransport
import ImageStore
import RealmAttestation

extension CRIService {
    public func pullImage(_ request: PullImageRequest, context: ServerContext) async throws -> PullImageResponse {
        let name = try Self.imageName(request.image)
        // A pod whose initdata names a signature policy (held by its key broker, read at
        // CreateContainer as the container's realm) needs the image's signatures kept.
        let podPolicy = try request.sandboxConfig.flatMap { config throws(FascoError) in try InitDataImagePolicy.uri(annotations: config.annotations) }
        let record = try await images.pull(name, credentials: request.auth.map(Self.credentials), lookUpSignatures: podPolicy != nil)
        // containerd returns the image ID (config digest) as image_ref; kubelet accepts either.
        return PullImageResponse(imageRef: record.id.description)
    }

    static func credentials(_ auth: AuthConfig) -> RegistryCredentials {
        RegistryCredentials(username: auth.username, password: auth.password, auth: auth.auth,
                            identityToken: auth.identityToken, registryToken: auth.registryToken)
    }

    /// The image an ImageSpec names; an empty name is INVALID_ARGUMENT.
    static func imageName(_ spec: ImageSpec?) throws(FascoError) -> String {
        guard let name = spec?.image, !name.isEmpty else { throw .invalidArgument("image is required") }
        return name
    }
}
