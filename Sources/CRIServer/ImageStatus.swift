import CRIAPI
import FascoCore
import FoundationEssentials
import GRPCTransport
import ImageStore
import OCISpec

extension CRIService {
    /// An unknown image is an empty response, not an error (kubelet checks for a nil image).
    public func imageStatus(_ request: ImageStatusRequest, context: ServerContext) async throws -> ImageStatusResponse {
        let name = try Self.imageName(request.image)
        guard let record = await images.image(name) else { return ImageStatusResponse() }
        var info: [String: String] = [:]
        if request.verbose { info["info"] = Self.verboseImageInfo(record) }
        return ImageStatusResponse(image: Self.render(record), info: info)
    }

    static func render(_ record: ImageRecord) -> Image {
        let user = record.user
        return Image(
            id: record.id.description, repoTags: record.repoTags, repoDigests: record.repoDigests,
            size: UInt64(max(0, record.size)), uid: user.uid.map { Int64Value(value: $0) }, username: user.username,
            spec: ImageSpec(image: record.id.description), pinned: record.pinned)
    }

    /// The verbose info: the image's OCI config and how Fasco stores it, as JSON. `encrypted`
    /// says whether any layer is encrypted; `encryptedLayers` names each one (its blob digest,
    /// media type and who holds its key: key-broker resources, or `jwe` for node keys).
    static func verboseImageInfo(_ record: ImageRecord) -> String {
        struct EncryptedLayerInfo: Encodable {
            var digest: String
            var mediaType: String
            var keys: [String]
        }
        struct Info: Encodable {
            var imageSpec: ImageConfiguration
            var manifestDigest: String
            var chainIDs: [String]
            var createdAt: Int64
            var encrypted: Bool
            var encryptedLayers: [EncryptedLayerInfo]?
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let encrypted = record.encryptedLayers.map { layer in
            let keys = (try? EncryptedLayer(layer.descriptor))?.wrapped.map { wrapped -> String in
                switch wrapped {
                case .attestationAgent(let packet): packet.kid
                case .jwe: "jwe"
                }
            }
            return EncryptedLayerInfo(digest: layer.descriptor.digest, mediaType: layer.descriptor.mediaType, keys: keys ?? [])
        }
        let info = Info(imageSpec: record.config, manifestDigest: record.manifestDigest.description,
                        chainIDs: record.chainIDs.map(\.description), createdAt: record.createdAt,
                        encrypted: !encrypted.isEmpty, encryptedLayers: encrypted.isEmpty ? nil : encrypted)
        return (try? encoder.encode(info)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
