import FascoCore
import OCISpec
#if canImport(Glibc)
import Glibc
#endif

extension ImageStore {
    /// The account files a container's spec is built from (/etc/passwd and /etc/group, the
    /// only files of its root filesystem the spec builder reads), copied into `scratch/etc` as
    /// the image's merged root filesystem has them, without mounting anything: from the
    /// store's snapshots (`storeDirectory`, `<root>/images`), or by unpacking the layers of an
    /// OCI layout (`layoutDirectory`) into `scratch`. For `fasco measure`. None for an image
    /// with encrypted layers, as the daemon builds its containers' specs.
    public static func copyAccountFiles(of record: ImageRecord, storeDirectory: String?, layoutDirectory: String?,
                                        into scratch: String) throws(FascoError) {
        var layers: [String] = []  // each layer's own tree, bottom first
        if record.isEncrypted {
            // A container of an encrypted image has its spec built before its realm received the
            // key (its root filesystem is locked, without account files): so is its reference.
        } else if let storeDirectory {
            let snapshots = try SnapshotStore(root: storeDirectory + "/snapshots")
            for chainID in record.chainIDs {
                guard snapshots.contains(chainID) else { throw .notFound("image \(record.id) is not unpacked under \(storeDirectory)") }
                layers.append(snapshots.path(of: chainID))
            }
        } else if let layoutDirectory {
            for (index, layer) in record.layers.enumerated() {
                let tree = "\(scratch)/layer-\(index)"
                try FileSystem.makeDirectories(tree, mode: 0o700)
                let blob = LayoutSource.blobPath(layoutDirectory, try Digest(parsing: layer.digest))
                _ = try LayerUnpacker.apply(
                    blobPath: blob, compression: MediaType.layerCompression(layer.mediaType) ?? LayerUnpacker.detectCompression(blobPath: blob),
                    to: tree, options: LayerUnpacker.Options(preserveOwnership: false, layerName: layer.digest))
                layers.append(tree)
            }
        }
        try FileSystem.makeDirectories(scratch + "/rootfs/etc", mode: 0o755)
        for name in ["passwd", "group"] {
            // The topmost layer that has the file, or deletes it (an overlay whiteout), decides.
            for tree in layers.reversed() {
                var info = stat()
                guard lstat("\(tree)/etc/\(name)", &info) == 0 else { continue }
                if info.st_mode & S_IFMT == S_IFREG, let bytes = try FileSystem.read("\(tree)/etc/\(name)", limit: 16 << 20) {
                    try FileSystem.writeAtomically(bytes, to: "\(scratch)/rootfs/etc/\(name)", mode: 0o644, durable: false)
                }
                break
            }
        }
    }
}
