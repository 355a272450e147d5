import FascoCore

extension ImageStore {
    /// The writable root filesystem of a container: an overlay of its image's snapshots
    /// with its own upper and work directories under `directory`, mounted at
    /// `directory/rootfs`. The image's snapshots are leased to `owner` until
    /// `removeRootfs` runs, so removing the image meanwhile keeps them.
    public func prepareRootfs(image name: String, owner: String, directory: String) throws(FascoError) -> String {
        guard let record = image(name) else { throw .notFound("image \(name) not found") }
        let chain = record.chainIDs
        guard !chain.isEmpty else { throw .failedPrecondition("image \(name) has no layers") }
        for chainID in chain where !snapshots.contains(chainID) {
            throw .failedPrecondition("image \(name) is not fully unpacked (snapshot \(chainID) missing); pull it again")
        }
        _ = try lease(record.id, to: owner)
        let rootfs = directory + "/rootfs"
        do throws(FascoError) {
            for sub in ["upper", "work", "rootfs"] { try FileSystem.makeDirectories(directory + "/" + sub, mode: 0o755) }
            try Overlay.mount(lowers: chain.reversed().map { snapshots.path(of: $0) },
                              upper: directory + "/upper", work: directory + "/work", at: rootfs)
        } catch {
            try? removeRootfs(owner: owner, directory: directory)
            throw error
        }
        return rootfs
    }

    /// Unmounts and deletes a container's root filesystem and releases its lease. Idempotent.
    public func removeRootfs(owner: String, directory: String) throws(FascoError) {
        Overlay.unmount(directory + "/rootfs")
        try FileSystem.removeTree(directory)
        try release(owner)
    }
}
