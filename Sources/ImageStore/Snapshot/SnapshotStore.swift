import CImageLibs
import FascoCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Unpacked layers as overlayfs lower directories, one per chain ID:
/// `snapshots/<first 16 hex of the chain ID>/fs` holds what that layer changed
/// over its parents, with overlayfs whiteouts. Short directory names keep the
/// overlay `lowerdir=` option (limited to a page) long enough for deep images.
///
/// A snapshot is built in `snapshots/tmp-*` and renamed into place when complete,
/// so a crash leaves either a whole snapshot or a temporary directory that the
/// next start removes.
public struct SnapshotStore: Sendable {
    public let root: String
    /// Where a partial snapshot that cannot be removed is reported.
    let logger: Logger

    public init(root: String, logger: Logger = Logger(label: "fasco.images")) throws(FascoError) {
        self.root = root
        self.logger = logger
        try FileSystem.makeDirectories(root)
    }

    func directory(of chainID: Digest) -> String { "\(root)/\(String(chainID.encoded.prefix(16)))" }

    /// The lower directory of a committed snapshot.
    public func path(of chainID: Digest) -> String { directory(of: chainID) + "/fs" }

    /// Whether the snapshot is committed: a probe, so a chainid that cannot be read is an answer (no).
    public func contains(_ chainID: Digest) -> Bool {
        guard let recorded = try? FileSystem.read(directory(of: chainID) + "/chainid", limit: 256) else { return false }
        return String(decoding: recorded, as: UTF8.self) == chainID.description
    }

    /// Builds the snapshot `chainID` over `parents` (bottom first) by running `apply`
    /// on a directory that shows the parents with the new layer on top.
    /// `apply` writes through an overlay mount, so deletions become whiteouts.
    public func create(_ chainID: Digest, parents: [Digest], apply: (String) throws(FascoError) -> Void) throws(FascoError) {
        try create(chainID, parentPaths: parents.map { path(of: $0) }, apply: apply)
    }

    /// `create` over parents given as lower directories (bottom first), which may live in another
    /// store (a container's own layers sit on the shared ones). `durable: false` skips the syncs
    /// (a container's own layers go with the container: a host crash ends it anyway).
    ///
    /// A failed build's temporary directory is removed; when that fails too, it is logged: a
    /// warning in a durable store (it stays until the next start's `recover`), debug in a
    /// container's own (its directory is removed with the container's root filesystem).
    func create(_ chainID: Digest, parentPaths: [String], durable: Bool = true,
                apply: (String) throws(FascoError) -> Void) throws(FascoError) {
        if contains(chainID) { return }
        let final = directory(of: chainID)
        if FileSystem.exists(final) {
            throw .internal("snapshot directory \(final) belongs to another chain ID (prefix collision)")
        }
        let temporary = "\(root)/tmp-\(String(chainID.encoded.prefix(16)))-\(UInt32.random(in: 0...UInt32.max))"
        try FileSystem.makeDirectories(temporary + "/fs", mode: 0o755)
        do throws(FascoError) {
            if parentPaths.isEmpty {
                try apply(temporary + "/fs")
            } else {
                try FileSystem.makeDirectories(temporary + "/work")
                try FileSystem.makeDirectories(temporary + "/mnt")
                try Overlay.mount(lowers: parentPaths.reversed(), upper: temporary + "/fs", work: temporary + "/work", at: temporary + "/mnt")
                do throws(FascoError) {
                    try apply(temporary + "/mnt")
                } catch {
                    Overlay.unmount(temporary + "/mnt")
                    throw error
                }
                Overlay.unmount(temporary + "/mnt")
                try FileSystem.removeTree(temporary + "/work")
                try FileSystem.removeTree(temporary + "/mnt")
            }
            if durable { try syncFilesystem(temporary) }
            try FileSystem.writeAtomically(Array(chainID.description.utf8), to: temporary + "/chainid", mode: 0o644, durable: durable)
            guard rename(temporary, final) == 0 else {
                throw FascoError.internal("cannot commit snapshot \(chainID): \(FileSystem.errnoText)")
            }
            if durable { try FileSystem.syncDirectory(root) }
        } catch {
            do throws(FascoError) { try FileSystem.removeTree(temporary) } catch let failure {
                logger.cleanUpFailed("remove a partial snapshot", error: failure, left: temporary, digest: chainID, retried: !durable)
            }
            throw error
        }
    }

    /// Chain IDs of every committed snapshot: a directory without a readable chainid is not one
    /// (nothing collects it, and nothing reports it).
    public func all() throws(FascoError) -> [Digest] {
        var result: [Digest] = []
        for name in try FileSystem.list(root) where !name.hasPrefix("tmp-") {
            guard let bytes = try? FileSystem.read("\(root)/\(name)/chainid", limit: 256),
                  let digest = try? Digest(parsing: String(decoding: bytes, as: UTF8.self)) else { continue }
            result.append(digest)
        }
        return result
    }

    public func remove(_ chainID: Digest) throws(FascoError) {
        guard contains(chainID) else { return }
        // Rename first so that a crash mid-removal leaves a temporary directory, never half a snapshot.
        let doomed = "\(root)/tmp-removing-\(String(chainID.encoded.prefix(16)))"
        guard rename(directory(of: chainID), doomed) == 0 else {
            throw .internal("cannot remove snapshot \(chainID): \(FileSystem.errnoText)")
        }
        try FileSystem.removeTree(doomed)
    }

    /// Removes what a crash left behind (temporary directories and their mounts).
    /// One that cannot be removed is logged and left: it is never taken for a snapshot (its
    /// name starts with tmp-), and the daemon starts anyway; the next start tries again.
    /// A directory whose chainid cannot be read is no snapshot either, but a container may
    /// still have it as a lower layer: it is reported, never removed.
    public func recover() throws(FascoError) {
        for name in try FileSystem.list(root) where !name.hasPrefix("tmp-") {
            let recorded = try? FileSystem.read("\(root)/\(name)/chainid", limit: 256)
            if recorded.flatMap({ try? Digest(parsing: String(decoding: $0, as: UTF8.self)) }) == nil {
                logger.warning("a snapshot directory without a readable chain ID is left alone (a container may use it)", metadata: [
                    "step": "recover the snapshot store", "left": "\(root)/\(name)",
                ])
            }
        }
        for name in try FileSystem.list(root) where name.hasPrefix("tmp-") {
            Overlay.unmount("\(root)/\(name)/mnt")
            do throws(FascoError) {
                try FileSystem.removeTree("\(root)/\(name)")
            } catch {
                logger.cleanUpFailed("remove a partial snapshot a crash left", error: error, left: "\(root)/\(name)")
            }
        }
    }

    private func syncFilesystem(_ path: String) throws(FascoError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .internal("cannot open \(path): \(FileSystem.errnoText)") }
        defer { close(fd) }
        guard fasco_syncfs(fd) == 0 else { throw .internal("cannot sync \(path): \(FileSystem.errnoText)") }
    }
}

/// overlayfs mounts.
public enum Overlay {
    /// Mounts `lowers` (topmost first) with an optional writable upper layer at `target`.
    public static func mount(lowers: [String], upper: String?, work: String?, at target: String) throws(FascoError) {
        var options = "lowerdir=" + lowers.joined(separator: ":")
        if let upper, let work { options += ",upperdir=\(upper),workdir=\(work)" }
        guard options.utf8.count < 4000 else {
            throw .resourceExhausted("too many image layers for one overlay mount (\(lowers.count))")
        }
        if lowers.count == 1, upper == nil {
            // overlayfs needs two lowers or an upper; a single read-only layer is a read-only bind mount.
            guard Glibc.mount(lowers[0], target, nil, UInt(MS_BIND), nil) == 0,
                  Glibc.mount(nil, target, nil, UInt(MS_BIND | MS_REMOUNT | MS_RDONLY), nil) == 0 else {
                throw .internal("cannot bind-mount \(lowers[0]) at \(target): \(FileSystem.errnoText)")
            }
            return
        }
        guard Glibc.mount("overlay", target, "overlay", 0, options) == 0 else {
            throw .internal("cannot mount overlay at \(target): \(FileSystem.errnoText)")
        }
    }

    /// Unmounts `target` if something is mounted there (lazily when busy).
    ///
    /// The result is not checked: as root, the unmount and the lazy detach fail only where
    /// nothing is mounted (EINVAL) or the path is gone (ENOENT), the idempotent case. Whatever
    /// stays mounted makes the removal that follows fail (EBUSY), and that is reported.
    public static func unmount(_ target: String) {
        if umount2(target, 0) != 0 && errno == EBUSY {
            umount2(target, Int32(MNT_DETACH))
        }
    }
}
