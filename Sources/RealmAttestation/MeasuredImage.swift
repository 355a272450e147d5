/// The image a Container Realm runs, as its measurement names it.
public struct MeasuredImage: Sendable, Equatable, Codable {
    /// The digest of the image manifest ("sha256:...").
    public var manifest: String
    /// The digest of the image config ("sha256:...", the image ID).
    public var config: String
    /// The layers' diff IDs, bottom first.
    public var layers: [String]
    /// The digests of the encrypted layers' blobs as the manifest names them, bottom first: what
    /// a key broker's policy names to release their keys. Absent (not in the measured bytes)
    /// for an image without encrypted layers.
    public var encryptedLayers: [String]?

    public init(manifest: String, config: String, layers: [String], encryptedLayers: [String]? = nil) {
        self.manifest = manifest
        self.config = config
        self.layers = layers
        self.encryptedLayers = encryptedLayers?.isEmpty == true ? nil : encryptedLayers
    }
}
