import FascoCore
import FoundationEssentials
import OCISpec

/// One image as the store knows it: named by its config digest (the image ID),
/// with the names that point at it.
public struct ImageRecord: Codable, Sendable, Equatable {
    /// The config digest: the image ID kubelet sees.
    public var id: Digest
    /// `repository:tag` names, normalised (`docker.io/library/busybox:latest`).
    public var repoTags: [String]
    /// `repository@digest` names, the digest of what the reference resolved to (index or manifest).
    public var repoDigests: [String]
    /// The platform manifest this image was unpacked from.
    public var manifestDigest: Digest
    public var config: ImageConfiguration
    public var layers: [Descriptor]
    /// Manifest + config + compressed layers, as the registry serves them.
    public var size: Int64
    /// Unix nanoseconds of the pull or import.
    public var createdAt: Int64
    public var pinned: Bool
    /// The cosign signatures found for the image's repo digests when it was pulled under a
    /// signature policy (the evidence CreateContainer verifies again); nil when none were.
    public var signatures: [CosignSignature]? = nil

    /// The snapshots this image's root filesystem is built from, bottom first. A record is made
    /// only after every diff ID parsed (`fetch`), so none is dropped here.
    public var chainIDs: [Digest] {
        ChainID.chain(config.rootfs.diffIDs.compactMap { try? Digest(parsing: $0) })
    }

    /// The image's `User` split as CRI's Image message wants it: a numeric uid, or a name.
    public var user: (uid: Int64?, username: String) {
        let user = config.config?.user ?? ""
        let name = String(user.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        if name.isEmpty { return (nil, "") }
        if let uid = Int64(name), uid >= 0 { return (uid, "") }
        return (nil, name)
    }
}

/// The image records, persisted as one JSON document written atomically.
struct ImageIndex {
    let path: String
    private(set) var records: [Digest: ImageRecord] = [:]

    init(path: String) throws(FascoError) {
        self.path = path
        guard let bytes = try FileSystem.read(path) else { return }
        do {
            let list = try JSONDecoder().decode([ImageRecord].self, from: Data(bytes))
            for record in list { records[record.id] = record }
        } catch {
            throw .internal("image metadata \(path) is unreadable", cause: error)
        }
    }

    /// Replaces the whole set and makes it durable before returning.
    mutating func commit(_ updated: [Digest: ImageRecord]) throws(FascoError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes: Data
        do {
            bytes = try encoder.encode(updated.values.sorted { $0.id < $1.id })
        } catch {
            throw .internal("cannot encode image metadata", cause: error)
        }
        try FileSystem.writeAtomically(Array(bytes), to: path, mode: 0o600)
        records = updated
    }
}
