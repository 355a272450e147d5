import ImageStore
import RealmAttestation

extension ImageRecord {
    /// The image as a Container Realm's measurement names it.
    public var measured: MeasuredImage {
        MeasuredImage(manifest: manifestDigest.description, config: id.description, layers: config.rootfs.diffIDs,
                      encryptedLayers: encryptedLayers.map(\.descriptor.digest))
    }
}
