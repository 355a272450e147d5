import CLinux
import FascoCore
import Logging
import OCISpec
#if canImport(Glibc)
import Glibc
#endif

extension ImageStore {
    /// The writable root filesystem of a container: an overlay of its image's snapshots
    /// with its own upper and work directories under `directory`, mounted at
    /// `directory/rootfs`. The image's snapshots are leased to `owner` until
    /// `removeRootfs` runs, so removing the image meanwhile keeps them.
    ///
    /// With `idMapping` (a container in a user namespace of its own) the root filesystem is
    /// the user namespace root's: each layer is an idmapped clone (mapped through that
    /// namespace, attached under `directory/lower/` while the overlay is mounted, then
    /// detached: the overlay keeps its own references), and upper/ and work/ belong to the
    /// host IDs of the namespace's root, so what the container writes is its root's too. A
    /// file system that cannot be idmapped leaves the layers as they are (owned by IDs the
    /// namespace does not map).
    ///
    /// An image with encrypted layers is left **locked**: the directories are made and the
    /// lease taken, but nothing is mounted (`rootfs` is an empty directory) until
    /// `unlockRootfs` has decrypted the container's own copy of its layers.
    @discardableResult
    ///
    /// `logger` (the store's unless given) reports the clean-ups, with the caller's metadata
    /// (ImageRootfsStorage's names the container and its pod).
    public func prepareRootfs(image name: String, owner: String, directory: String,
                              idMapping: RootfsIDMapping? = nil, logger: Logger? = nil) throws(FascoError) -> PreparedRootfs {
        let logger = logger ?? self.logger
        guard let record = image(name) else { throw .notFound("image \(name) not found") }
        let chain = record.chainIDs
        guard !chain.isEmpty else { throw .failedPrecondition("image \(name) has no layers") }
        try requireSnapshots(chain.prefix(record.sharedLayerCount), of: name)
        _ = try lease(record.id, to: owner)
        let rootfs = directory + "/rootfs"
        do throws(FascoError) {
            for sub in ["upper", "work", "rootfs"] { try FileSystem.makeDirectories(directory + "/" + sub, mode: 0o755) }
            if !record.isEncrypted {
                try mountRootfs(lowers: chain.map { snapshots.path(of: $0) }, directory: directory, idMapping: idMapping, logger: logger)
            }
        } catch {
            do throws(FascoError) { try removeRootfs(owner: owner, directory: directory) } catch let failure {
                // Nothing else removes it before the next start's sweep: the caller has no
                // root filesystem to release.
                logger.cleanUpFailed("remove the root filesystem that could not be prepared (its directory, then its lease)",
                                     error: failure, left: directory, owner: owner)
            }
            throw error
        }
        return PreparedRootfs(path: rootfs, locked: record.isEncrypted)
    }

    /// Completes the locked root filesystem `prepareRootfs` left for an image with encrypted
    /// layers: each encrypted layer's key is unwrapped with `keys` (the key broker's resource
    /// released to the container's realm, or a node key), the layer decrypted (its HMAC and
    /// plain digest checked before anything of it is unpacked) and unpacked, with every layer
    /// above it, into `directory/layers/`: the container's own copy, never the shared
    /// snapshots. Then the overlay is mounted. On failure nothing decrypted is left: the own
    /// layers are removed, and what cannot be is logged at debug, as it lies in `directory`,
    /// which the caller's rollback removes (RealmManager releases the root filesystem).
    public func unlockRootfs(image name: String, directory: String, idMapping: RootfsIDMapping? = nil,
                             keys: LayerKeys, logger: Logger? = nil) async throws(FascoError) {
        let logger = logger ?? self.logger
        guard let record = image(name) else { throw .notFound("image \(name) not found") }
        let chain = record.chainIDs
        let shared = record.sharedLayerCount
        guard record.isEncrypted else {
            // The plain form of the image arrived since `prepareRootfs` (one image ID, whose
            // record runs the plain layers now): nothing is left to decrypt.
            try requireSnapshots(chain[...], of: name)
            try mountRootfs(lowers: chain.map { snapshots.path(of: $0) }, directory: directory, idMapping: idMapping, logger: logger)
            return
        }
        guard chain.count == record.layers.count else {
            throw .failedPrecondition("image \(name) lists \(record.layers.count) layers but \(chain.count) diff IDs")
        }
        let diffIDs = try record.config.rootfs.diffIDs.map { (text: String) throws(FascoError) -> Digest in try Digest(parsing: text) }
        let own = try SnapshotStore(root: directory + "/layers", logger: logger)
        var lowers = chain.prefix(shared).map { snapshots.path(of: $0) }
        do throws(FascoError) {
            for position in shared..<chain.count {
                let descriptor = record.layers[position]
                let blobDigest = try Digest(parsing: descriptor.digest)
                let storedPath = content.path(of: blobDigest)
                var blobPath = storedPath
                var compression = MediaType.layerCompression(descriptor.mediaType)
                var plainPath: String?
                if EncryptedLayer.isEncrypted(descriptor.mediaType) {
                    let layer = try EncryptedLayer(descriptor)
                    let options = try await keys.unwrap(layer)
                    let plain = "\(directory)/layers/plain-\(position)"
                    let logger = logger
                    try await BlockingWork.run { () throws(FascoError) in
                        try LayerDecryption.decrypt(blobPath: storedPath, to: plain, layer: layer, options: options, logger: logger)
                    }
                    plainPath = plain
                    blobPath = plain
                    compression = layer.compression
                }
                let parents = lowers
                let limits = layerLimits
                let chainID = chain[position]
                let source = blobPath
                let unpackCompression = compression ?? .gzip
                let diffID = diffIDs[position]
                do throws(FascoError) {
                    try await BlockingWork.run { () throws(FascoError) in
                        try own.create(chainID, parentPaths: parents, durable: false) { target throws(FascoError) in
                            var options = LayerUnpacker.Options()
                            options.expectedDiffID = diffID
                            options.limits = limits
                            options.layerName = descriptor.digest
                            _ = try LayerUnpacker.apply(blobPath: source, compression: unpackCompression, to: target, options: options)
                        }
                    }
                } catch {
                    if let plainPath { removeDecryptedLayer(plainPath, unpacked: false, logger: logger) }
                    throw error
                }
                if let plainPath { removeDecryptedLayer(plainPath, unpacked: true, logger: logger) }
                lowers.append(own.path(of: chainID))
            }
            try mountRootfs(lowers: lowers, directory: directory, idMapping: idMapping, logger: logger)
        } catch {
            do throws(FascoError) { try FileSystem.removeTree(directory + "/layers") } catch let failure {
                logger.cleanUpFailed("remove the container's own layers after a failed unlock", error: failure,
                                     left: directory + "/layers", retried: true)
            }
            throw error
        }
    }

    /// FAILED_PRECONDITION unless every one of `chainIDs` is a committed shared snapshot.
    private func requireSnapshots(_ chainIDs: ArraySlice<Digest>, of name: String) throws(FascoError) {
        for chainID in chainIDs where !snapshots.contains(chainID) {
            throw .failedPrecondition("image \(name) is not fully unpacked (snapshot \(chainID) missing); pull it again")
        }
    }

    /// Deletes the file a layer was decrypted into, once its unpack ended. When that fails the
    /// plaintext stays beside the container's own layers: after a failed unpack, until the
    /// removal of `layers/` that follows (debug); after an unpack that worked, until the
    /// container's root filesystem is removed (a warning).
    private func removeDecryptedLayer(_ path: String, unpacked: Bool, logger: Logger) {
        guard unlink(path) != 0, errno != ENOENT else { return }
        let failure = FascoError.internal("cannot remove \(path): \(FileSystem.errnoText)")
        if unpacked {
            logger.cleanUpFailed("remove a decrypted layer once unpacked", error: failure, left: path)
        } else {
            logger.cleanUpFailed("remove a decrypted layer that could not be unpacked", error: failure, left: path, retried: true)
        }
    }

    /// Mounts the overlay of `lowers` (bottom first) with `directory`'s upper and work
    /// directories at `directory/rootfs`, through idmapped clones for `idMapping`.
    private func mountRootfs(lowers bottomFirst: [String], directory: String, idMapping: RootfsIDMapping?, logger: Logger) throws(FascoError) {
        var lowers = Array(bottomFirst.reversed())
        var clones: [String] = []
        defer { if !clones.isEmpty { Self.detachClones(clones, in: directory + "/lower", logger: logger) } }
        if let idMapping {
            clones = try Self.idmappedClones(of: lowers, in: directory + "/lower", mapping: idMapping, logger: logger)
            if !clones.isEmpty {
                lowers = clones
                for sub in ["upper", "work"] where chown(directory + "/" + sub, idMapping.rootUID, idMapping.rootGID) != 0 {
                    throw .internal("cannot give \(directory)/\(sub) to the user namespace's root: \(FileSystem.errnoText)")
                }
            }
        }
        try Overlay.mount(lowers: lowers, upper: directory + "/upper", work: directory + "/work", at: directory + "/rootfs")
    }

    /// Unmounts a container's root filesystem (once it exited: nothing runs on it any more),
    /// keeping its directory, upper layer included, until it is removed or retired. Idempotent.
    public static func unmountRootfs(directory: String) {
        Overlay.unmount(directory + "/rootfs")
    }

    /// Unmounts and deletes a container's root filesystem and releases its lease. Idempotent.
    public func removeRootfs(owner: String, directory: String) throws(FascoError) {
        Self.unmountRootfs(directory: directory)
        try FileSystem.removeTree(directory)
        try release(owner)
    }

    /// What `removeRootfs` does, with the slow part left to a background clean-up: before
    /// it returns the root filesystem is unmounted, `directory` renamed into `trash` (a
    /// directory beside it, so on the same file system) and the lease dropped; deleting the
    /// tree and collecting what the lease kept alive follow after `cleanupDelay`, gathered
    /// with whatever else was retired meanwhile (`settle` runs them at once). Idempotent.
    public func retireRootfs(owner: String, directory: String, trash directoryOfTrash: String) throws(FascoError) {
        Self.unmountRootfs(directory: directory)
        let name = directory.split(separator: "/").last.map(String.init) ?? "rootfs"
        let target = "\(directoryOfTrash)/\(name)-\(UInt64.random(in: 0...UInt64.max))"
        try FileSystem.makeDirectories(directoryOfTrash, mode: 0o700)
        if rename(directory, target) == 0 {
            trash.append(target)
        } else if errno != ENOENT {
            throw .internal("cannot move \(directory) out of the way: \(FileSystem.errnoText)")
        }
        _ = try dropLease(owner)
        scheduleCleanup()
    }

    /// Has the background clean-up delete `tree` (a directory no one uses any more, such as a
    /// trash directory left by a crash) and then collect garbage.
    public func discard(_ tree: String) {
        trash.append(tree)
        scheduleCleanup()
    }

    /// Runs the pending clean-up now and returns when the trash is deleted and the garbage
    /// collected. Throws the collection's failure, else the first tree that could not be
    /// deleted (each such tree is logged as well, with its path).
    public func settle() async throws(FascoError) {
        cleanup?.cancel()
        cleanup = nil
        let failure = try await deleteTrash()
        try garbageCollect()
        if let failure { throw failure }
    }

    private func scheduleCleanup() {
        guard cleanup == nil else { return }
        let delay = cleanupDelay
        cleanup = Task { [weak self] in
            // Cancelled while it waits: a settle took this run's work.
            guard (try? await Task.sleep(for: delay)) != nil, let self else { return }
            await self.scheduledCleanUp()
        }
    }

    /// The background clean-up: nothing waits for it, so what it cannot do is logged. A tree
    /// left stays in the trash until the next start hands the trash to a clean-up again; what
    /// a failed collection leaves waits for the next collection (a removal, a release).
    private func scheduledCleanUp() async {
        // A settle that came first took this run's work.
        guard cleanup != nil, !Task.isCancelled else { return }
        cleanup = nil
        do throws(FascoError) {
            _ = try await deleteTrash()
        } catch {
            return  // no thread to delete the trees on: deleteTrash logged them
        }
        do throws(FascoError) {
            try garbageCollect()
        } catch {
            logger.cleanUpFailed("collect garbage after deleting the trash", error: error,
                                 left: "blobs and snapshots no image or container uses, until the next collection")
        }
    }

    /// Deletes the trash on a thread of its own (a big tree takes a while). Every tree is
    /// tried; each that cannot be deleted is logged with its path (it stays in the trash), and
    /// the first failure returned. Throws when no thread can be started (each tree logged).
    private func deleteTrash() async throws(FascoError) -> FascoError? {
        let trees = trash
        trash = []
        guard !trees.isEmpty else { return nil }
        let logger = logger
        let step = "delete a retired root filesystem or trash directory"
        do throws(FascoError) {
            return try await BlockingWork.run { () -> FascoError? in
                var first: FascoError?
                for tree in trees {
                    do throws(FascoError) { try FileSystem.removeTree(tree) } catch {
                        logger.cleanUpFailed(step, error: error, left: tree)
                        first = first ?? error
                    }
                }
                return first
            }
        } catch {
            for tree in trees { logger.cleanUpFailed(step, error: error, left: tree) }
            throw error
        }
    }
}

/// A container's root filesystem as `prepareRootfs` leaves it: mounted at `path`, or, when
/// `locked` (its image has encrypted layers), an empty directory there until `unlockRootfs`.
public struct PreparedRootfs: Sendable, Equatable {
    public var path: String
    public var locked: Bool
}

/// The user namespace a container's root filesystem is made for: its `ns/user` file and the
/// host IDs its root (ID 0 inside) has.
public struct RootfsIDMapping: Sendable, Equatable {
    public var userNamespace: String
    public var rootUID: UInt32
    public var rootGID: UInt32

    public init(userNamespace: String, rootUID: UInt32, rootGID: UInt32) {
        self.userNamespace = userNamespace
        self.rootUID = rootUID
        self.rootGID = rootGID
    }
}

extension ImageStore {
    /// An idmapped clone of each of `layers`, attached at `directory/<index>`. Empty (and
    /// nothing left mounted) when the file system cannot be idmapped (EINVAL, EPERM, ENOSYS).
    /// What a failure leaves is logged (`detachClones`).
    static func idmappedClones(of layers: [String], in directory: String, mapping: RootfsIDMapping,
                               logger: Logger) throws(FascoError) -> [String] {
        try FileSystem.makeDirectories(directory, mode: 0o700)
        var clones: [String] = []
        do throws(FascoError) {
            for (index, layer) in layers.enumerated() {
                let target = "\(directory)/\(index)"
                guard mkdir(target, 0o755) == 0 || errno == EEXIST else {
                    throw .internal("cannot create \(target): \(FileSystem.errnoText)")
                }
                guard fasco_mount_idmapped(layer, target, mapping.userNamespace) == 0 else {
                    let code = errno
                    let text = FileSystem.errnoText
                    removeMountPoint(target, "remove the mount point of a layer that could not be idmapped", logger: logger)
                    guard [EINVAL, EPERM, ENOSYS, EOPNOTSUPP].contains(code) else {
                        throw .internal("cannot map layer \(layer) into the user namespace \(mapping.userNamespace): \(text)")
                    }
                    detachClones(clones, in: directory, logger: logger)
                    return []
                }
                clones.append(target)
            }
        } catch {
            detachClones(clones, in: directory, logger: logger)
            throw error
        }
        return clones
    }

    /// Detaches and deletes the clones `idmappedClones` attached, and their directory. A clone
    /// that stays attached is a warning: a writable, idmapped view of a shared snapshot inside
    /// the container's directory. An empty directory that stays is debug: it goes with the
    /// container's directory.
    static func detachClones(_ clones: [String], in directory: String, logger: Logger) {
        for clone in clones {
            if umount2(clone, Int32(MNT_DETACH)) == 0 {
                removeMountPoint(clone, "remove the mount point of a detached idmapped clone", logger: logger)
                continue
            }
            let detach = FileSystem.errnoText
            // Gone all the same (nothing was attached there any more): nothing is left.
            guard rmdir(clone) != 0, errno != ENOENT else { continue }
            logger.cleanUpFailed("detach an idmapped clone of a layer", error: FascoError.internal(
                "cannot detach \(clone): \(detach); cannot remove it: \(FileSystem.errnoText)"), left: clone)
        }
        removeMountPoint(directory, "remove the directory of the idmapped clones", logger: logger)
    }

    /// rmdir of a directory `idmappedClones` made in the container's directory; one that cannot
    /// be removed is logged at debug, as the container's directory is removed with it.
    private static func removeMountPoint(_ path: String, _ step: String, logger: Logger) {
        guard rmdir(path) != 0, errno != ENOENT else { return }
        logger.cleanUpFailed(step, error: FascoError.internal("cannot remove \(path): \(FileSystem.errnoText)"), left: path, retried: true)
    }
}
