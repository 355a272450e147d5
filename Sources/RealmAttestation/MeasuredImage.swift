/// The image a Container Realm runs, as its measurement names it.
public struct MeasuredImage: Sendable, Equatable, Codable {
    /// The digest of the image manifest ("sha256:...").
    public var manifest: String
    /// The digest of the image config ("sha256:...", the image ID).
    public var config: String
    /// The layers' diff IDs, bottom first.
    public var layers: [String]

    public init(manifest: String, config: String, layers: [String]) {
        self.manifest = manifest
        self.config = config
        self.layers = layers
    }
}
