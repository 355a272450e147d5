import FascoCore
import FoundationEssentials
import Logging
import Metrics
import OCISpec
#if canImport(Glibc)
import Glibc
#endif

/// Fasco's images: pulls (coalesced, resumable, verified), the content store,
/// unpacked snapshots, image records, leases held by containers, and garbage collection.
///
/// Everything a call changes is durable before it returns. Knows nothing of CRI.
public actor ImageStore {
    public nonisolated let root: String
    public nonisolated let content: ContentStore
    public nonisolated let snapshots: SnapshotStore
    public nonisolated let platform: Platform
    private var index: ImageIndex
    private let sources: @Sendable (ImageReference, RegistryCredentials?) -> any ImageSource
    private var pulls: [String: Task<ImageRecord, any Error>] = [:]
    private var downloads: [Digest: Task<Void, any Error>] = [:]
    private var unpacks: [Digest: Task<Void, any Error>] = [:]
    /// Pulls and imports writing content that no record refers to yet.
    private var activeFetches = 0
    /// A collection asked for while fetches were running.
    private var collectionPending = false
    /// Trees retired root filesystems were renamed to (`retireRootfs`), deleted in the background.
    var trash: [String] = []
    /// The scheduled background clean-up: the trash deleted, then one collection.
    var cleanup: Task<Void, Never>?
    /// How long a scheduled clean-up gathers more work before it runs.
    public nonisolated let cleanupDelay: Duration
    /// How far one layer may expand when it is unpacked (fasco.toml `[image]`).
    public nonisolated let layerLimits: LayerLimits
    /// The signature policy pulls and container creation are held to (fasco.toml
    /// `[image] signature_policy`); nil admits anything and looks up no signatures.
    public nonisolated let signaturePolicy: SignaturePolicy?
    /// Where clean-ups whose failure is not thrown are reported (`Logger.cleanUpFailed`); a
    /// container's root filesystem steps take one that names the container instead.
    public nonisolated let logger: Logger

    /// - Parameter sources: makes the source a reference is pulled from (its registry, with mirrors).
    /// - Parameter cleanupDelay: how long removed containers' trees and the content they kept
    ///   alive wait, gathered, before a background clean-up deletes them.
    /// - Parameter layerLimits: how far one layer may expand; a layer past them is refused
    ///   (RESOURCE_EXHAUSTED) while it unpacks, and its partial snapshot removed.
    /// - Parameter signaturePolicy: what a pull must satisfy before anything of the image is
    ///   stored, and what an image must still satisfy when a container is created from it.
    /// - Parameter logger: reports the clean-ups whose failure nothing throws (a background
    ///   clean-up, the rollback of a failed step); the daemon passes its own.
    public init(root: String, platform: Platform = .host, cleanupDelay: Duration = .milliseconds(500),
                layerLimits: LayerLimits = LayerLimits(), signaturePolicy: SignaturePolicy? = nil,
                logger: Logger = Logger(label: "fasco.images"),
                sources: @escaping @Sendable (ImageReference, RegistryCredentials?) -> any ImageSource) throws(FascoError) {
        self.root = root
        self.logger = logger
        self.cleanupDelay = cleanupDelay
        self.layerLimits = layerLimits
        self.signaturePolicy = signaturePolicy
        self.platform = platform
        self.sources = sources
        try FileSystem.makeDirectories(root, mode: 0o700)
        try FileSystem.makeDirectories(root + "/leases", mode: 0o700)
        content = try ContentStore(root: root + "/content", logger: logger)
        snapshots = try SnapshotStore(root: root + "/snapshots", logger: logger)
        index = try ImageIndex(path: root + "/images.json")
        try snapshots.recover()
        try content.removePartialDownloads()
        try content.removeTemporaryFiles()
    }

    // MARK: Queries

    public var images: [ImageRecord] { index.records.values.sorted { $0.id < $1.id } }

    /// The image `name` refers to: an image ID (`sha256:…`, or its hex, or a unique hex prefix
    /// of at least 12 characters), a tagged or digested reference in any form kubelet sends.
    public func image(_ name: String) -> ImageRecord? {
        Self.lookup(name, in: index.records)
    }

    /// The record `name` refers to among `records` (the rules of `image(_:)`). Each form is a
    /// probe: a name that parses as none refers to no image.
    static func lookup(_ name: String, in records: [Digest: ImageRecord]) -> ImageRecord? {
        if let digest = try? Digest(parsing: name), let record = records[digest] { return record }
        let hex = name.hasPrefix("sha256:") ? String(name.dropFirst(7)) : name
        if hex.count >= 12, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) {
            let matches = records.values.filter { $0.id.encoded.hasPrefix(hex) }
            if matches.count == 1 { return matches[0] }
        }
        guard let reference = try? ImageReference(parsing: name) else { return nil }
        if let digest = reference.digest {
            let wanted = reference.repoDigest(digest)
            return records.values.first { $0.repoDigests.contains(wanted) }
        }
        let tagged = reference.description
        return records.values.first { $0.repoTags.contains(tagged) }
    }

    // MARK: Pull

    /// How long registry pulls take, by result (ok, error): a Timer, a histogram when served.
    public static let pullDurationMetric = "fasco_image_pull_duration_seconds"

    /// Pulls `name` and returns its record; concurrent pulls of one reference share one download.
    ///
    /// `lookUpSignatures` keeps the image's cosign signatures even without a node policy (a
    /// pod's own policy, from its key broker, judges them at CreateContainer).
    public func pull(_ name: String, credentials: RegistryCredentials? = nil, lookUpSignatures: Bool = false) async throws(FascoError) -> ImageRecord {
        let reference = try ImageReference(parsing: name)
        let key = reference.description + (lookUpSignatures ? " with signatures" : "")
        let task: Task<ImageRecord, any Error>
        if let running = pulls[key] {
            task = running
        } else {
            let source = sources(reference, credentials)
            task = Task {
                // One sample per download, however many callers share it.
                let start = ContinuousClock.now
                var result = "error"
                defer {
                    Metrics.Timer(label: Self.pullDurationMetric, dimensions: [("result", result)]).record(duration: ContinuousClock.now - start)
                }
                let record = try await self.fetch(reference, from: source, verifying: true, lookUpSignatures: lookUpSignatures)
                result = "ok"
                return record
            }
            pulls[key] = task
        }
        defer { if pulls[key] == task { pulls[key] = nil } }
        do {
            return try await task.value
        } catch let error as FascoError {
            throw error
        } catch {
            throw .internal("pull of \(key) failed", cause: error)
        }
    }

    /// Reads the manifest chain, the config and every layer, unpacks, and records the image.
    ///
    /// - Parameter verifying: hold the image to the signature policy (a registry pull): its
    ///   cosign signatures are read and checked once the top manifest's digest is known,
    ///   before anything of the image is stored, and kept in the record for CreateContainer.
    ///   Imports (an operator's action) are not checked here; CreateContainer still is.
    func fetch(_ reference: ImageReference, from source: any ImageSource, verifying: Bool = false,
               lookUpSignatures: Bool = false) async throws(FascoError) -> ImageRecord {
        activeFetches += 1
        defer {
            activeFetches -= 1
            if collectionPending && activeFetches == 0 {
                // The collection a removal asked for while fetches ran: nothing waits for it.
                do throws(FascoError) { try garbageCollect() } catch {
                    logger.cleanUpFailed("collect garbage after the last fetch", error: error,
                                         left: "blobs and snapshots no image or container uses, until the next collection")
                }
            }
        }
        let top = try await source.manifest(repository: reference.path, reference: reference.registryReference)
        var signatures: [CosignSignature] = []
        if verifying, let policy = signaturePolicy {
            signatures = try await cosignSignatures(of: reference, digest: top.digest, from: source, required: policy.needsSignatures(reference))
            try policy.admit(reference, digest: top.digest, signatures: signatures)
        } else if lookUpSignatures {
            signatures = try await cosignSignatures(of: reference, digest: top.digest, from: source, required: false)
        }
        try content.write(top.bytes, as: top.digest)
        var manifestBytes = top.bytes
        var manifestDigest = top.digest
        if MediaType.indexes.contains(top.mediaType) || Self.looksLikeIndex(top.bytes) {
            let chosen = try PlatformMatcher.select(from: decode(Index.self, top.bytes, what: "image index \(top.digest)"), for: platform)
            let digest = try Digest(parsing: chosen.digest)
            let fetched = try await source.manifest(repository: reference.path, reference: digest.description)
            guard fetched.digest == digest else {
                throw .failedPrecondition("manifest \(fetched.digest) does not match the index's \(digest)")
            }
            try content.write(fetched.bytes, as: digest)
            manifestBytes = fetched.bytes
            manifestDigest = digest
        }
        let manifest = try decode(Manifest.self, manifestBytes, what: "manifest \(manifestDigest)")
        let configDigest = try Digest(parsing: manifest.config.digest)
        try await ensureBlob(configDigest, size: manifest.config.size, repository: reference.path, source: source)
        let config = try decode(ImageConfiguration.self, try content.read(configDigest), what: "image config \(configDigest)")
        let diffIDs = try config.rootfs.diffIDs.map { (text: String) throws(FascoError) -> Digest in try Digest(parsing: text) }
        guard diffIDs.count == manifest.layers.count else {
            throw .failedPrecondition("image \(reference) has \(manifest.layers.count) layers but its config lists \(diffIDs.count) diff IDs")
        }
        try Self.checkLayerTypes(manifest.layers, of: reference.description)
        // Download layers concurrently, then unpack in order (each layer sits on its parents).
        try await withThrowingTaskGroupTyped(manifest.layers) { layer throws(FascoError) in
            try await self.ensureBlob(try Digest(parsing: layer.digest), size: layer.size, repository: reference.path, source: source)
        }
        // Encrypted layers are stored as pulled: they and every layer above them are unpacked
        // only for a container whose realm received the key (`unlockRootfs`).
        let chain = ChainID.chain(diffIDs)
        let shared = EncryptedLayer.sharedLayerCount(of: manifest.layers)
        for (position, layer) in manifest.layers.enumerated() where position < shared {
            try await ensureSnapshot(chain: Array(chain[...position]), diffID: diffIDs[position], layer: layer)
        }
        let size = Int64(manifestBytes.count) + manifest.config.size + manifest.layers.reduce(0) { $0 + $1.size }
        return try record(ImageRecord(
            id: configDigest, repoTags: reference.taggedName.map { [$0] } ?? [],
            repoDigests: [reference.repoDigest(top.digest)], manifestDigest: manifestDigest,
            config: config, layers: manifest.layers, size: size, createdAt: Self.nowNanos(), pinned: false,
            signatures: signatures.isEmpty ? nil : signatures))
    }

    /// Refuses a layer Fasco can neither unpack nor decrypt (FAILED_PRECONDITION naming it).
    static func checkLayerTypes(_ layers: [Descriptor], of image: String) throws(FascoError) {
        for layer in layers {
            if EncryptedLayer.isEncrypted(layer.mediaType) {
                do throws(FascoError) { _ = try EncryptedLayer(layer) } catch {
                    throw .failedPrecondition("image \(image): \(error.message)")
                }
            } else if MediaType.layerCompression(layer.mediaType) == nil {
                throw .failedPrecondition("image \(image) has a layer of unsupported media type \(layer.mediaType)")
            }
        }
    }

    /// A probe: what is not JSON is no index (decoding it as a manifest says what is wrong).
    static func looksLikeIndex(_ bytes: [UInt8]) -> Bool {
        struct Probe: Decodable { var manifests: [Descriptor]?; var layers: [Descriptor]? }
        guard let probe = try? JSONDecoder().decode(Probe.self, from: Data(bytes)) else { return false }
        return probe.manifests != nil && probe.layers == nil
    }

    /// Downloads a blob unless stored; one download per digest however many pulls want it.
    private func ensureBlob(_ digest: Digest, size: Int64, repository: String, source: any ImageSource) async throws(FascoError) {
        if content.contains(digest) { return }
        let task: Task<Void, any Error>
        if let running = downloads[digest] {
            task = running
        } else {
            let store = content
            task = Task {
                let writer = try store.ingest(digest, size: size)
                do {
                    try await source.blob(repository: repository, digest: digest, size: size, into: writer)
                    try writer.commit()
                } catch let error as FascoError where error.code == .failedPrecondition {
                    writer.discard()  // corrupt content: never resume from it
                    throw error
                }
            }
            downloads[digest] = task
        }
        defer { if downloads[digest] == task { downloads[digest] = nil } }
        do {
            try await task.value
        } catch let error as FascoError {
            throw error
        } catch {
            throw .unavailable("download of \(digest) failed", cause: error)
        }
    }

    /// Unpacks one layer into its snapshot unless it exists; one unpack per chain ID.
    private func ensureSnapshot(chain: [Digest], diffID: Digest, layer: Descriptor) async throws(FascoError) {
        guard let chainID = chain.last else { return }
        if snapshots.contains(chainID) { return }
        let task: Task<Void, any Error>
        if let running = unpacks[chainID] {
            task = running
        } else {
            let blobPath = content.path(of: try Digest(parsing: layer.digest))
            let compression = MediaType.layerCompression(layer.mediaType) ?? .gzip
            let snapshots = self.snapshots
            let parents = Array(chain.dropLast())
            let limits = layerLimits
            task = Task {
                try await BlockingWork.run { () throws(FascoError) in
                    try snapshots.create(chainID, parents: parents) { directory throws(FascoError) in
                        var options = LayerUnpacker.Options()
                        options.expectedDiffID = diffID
                        options.limits = limits
                        options.layerName = layer.digest
                        _ = try LayerUnpacker.apply(blobPath: blobPath, compression: compression, to: directory, options: options)
                    }
                }
            }
            unpacks[chainID] = task
        }
        defer { if unpacks[chainID] == task { unpacks[chainID] = nil } }
        do {
            try await task.value
        } catch let error as FascoError {
            throw error
        } catch {
            throw .internal("unpacking layer \(diffID) failed", cause: error)
        }
    }

    /// Adds or merges `new` into the records: a tag moves to the newest image that claims it.
    func record(_ new: ImageRecord) throws(FascoError) -> ImageRecord {
        var records = index.records
        for (id, var other) in records where id != new.id {
            let before = other.repoTags.count
            other.repoTags.removeAll { new.repoTags.contains($0) }
            if other.repoTags.count != before { records[id] = other }
        }
        var merged = records[new.id] ?? new
        if records[new.id] != nil {
            merged.repoTags = Self.union(merged.repoTags, new.repoTags)
            merged.repoDigests = Self.union(merged.repoDigests, new.repoDigests)
            let kept = merged.signatures ?? []
            let added = (new.signatures ?? []).filter { !kept.contains($0) }
            if !added.isEmpty { merged.signatures = kept + added }
            // One config, two manifests: ocicrypt keeps the config, so an encrypted image and
            // its plain form have one image ID. Once the plain layers are on the node nothing is
            // left to protect: the record runs them (every name of it).
            if merged.isEncrypted && !new.isEncrypted {
                merged.layers = new.layers
                merged.manifestDigest = new.manifestDigest
                merged.size = new.size
            }
        }
        records[new.id] = merged
        try index.commit(records)
        return merged
    }

    private static func union(_ a: [String], _ b: [String]) -> [String] {
        a + b.filter { !a.contains($0) }
    }

    // MARK: Removal and garbage collection

    /// Removes the image `name` refers to (every name of it), then collects content nothing uses.
    /// Returns false when no image matched (CRI RemoveImage of an unknown image succeeds).
    @discardableResult
    public func remove(_ name: String) throws(FascoError) -> Bool {
        guard let record = image(name) else { return false }
        var records = index.records
        records[record.id] = nil
        try index.commit(records)
        try garbageCollect()
        return true
    }

    /// Deletes blobs and snapshots no image record and no lease refers to. While pulls or
    /// imports are running (their manifests and layers belong to no record yet) the
    /// collection waits for the last of them to finish.
    public func garbageCollect() throws(FascoError) {
        guard activeFetches == 0 else {
            collectionPending = true
            return
        }
        collectionPending = false
        var blobs = Set<Digest>()
        var chains = Set<Digest>()
        // The records' names and layer digests parsed when they were made (`fetch`).
        for record in index.records.values {
            blobs.insert(record.id)
            blobs.insert(record.manifestDigest)
            for name in record.repoDigests {
                if let at = name.lastIndex(of: "@"), let digest = try? Digest(parsing: String(name[name.index(after: at)...])) {
                    blobs.insert(digest)
                }
            }
            for layer in record.layers { if let digest = try? Digest(parsing: layer.digest) { blobs.insert(digest) } }
            chains.formUnion(record.chainIDs)
        }
        let (leases, unreadable) = try readLeases()
        for lease in leases { chains.formUnion(lease.chainIDs) }
        for digest in try content.allDigests() where !blobs.contains(digest) && downloads[digest] == nil {
            try content.delete(digest)
        }
        // A lease that cannot be read may be a running container's: its snapshots are unknown,
        // so none is collected until it is readable again or removed with its container.
        guard unreadable.isEmpty else {
            logger.warning("image garbage collection keeps every snapshot: lease files cannot be read", metadata: [
                "step": "read the leases before collecting snapshots", "left": "\(unreadable.joined(separator: ", "))",
            ])
            return
        }
        for chainID in try snapshots.all() where !chains.contains(chainID) && unpacks[chainID] == nil {
            try snapshots.remove(chainID)
        }
    }

    // MARK: Leases: containers keep their image's snapshots

    public struct Lease: Codable, Sendable, Equatable {
        public var owner: String
        public var image: Digest
        public var chainIDs: [Digest]
    }

    /// Records that `owner` (a container) uses `image`; its snapshots outlive the image's removal.
    public func lease(_ image: Digest, to owner: String) throws(FascoError) -> Lease {
        guard let record = index.records[image] else { throw .notFound("image \(image) not found") }
        guard Self.isSafeName(owner) else { throw .invalidArgument("invalid lease owner \(owner)") }
        let lease = Lease(owner: owner, image: image, chainIDs: record.chainIDs)
        let bytes: Data
        do { bytes = try JSONEncoder().encode(lease) } catch { throw .internal("cannot encode lease", cause: error) }
        try FileSystem.writeAtomically(Array(bytes), to: "\(root)/leases/\(owner)")
        return lease
    }

    /// Drops `owner`'s lease and collects what it kept alive.
    public func release(_ owner: String) throws(FascoError) {
        guard try dropLease(owner) else { return }
        try garbageCollect()
    }

    /// Deletes `owner`'s lease file, collecting nothing; false for a name no lease can have.
    func dropLease(_ owner: String) throws(FascoError) -> Bool {
        guard Self.isSafeName(owner) else { return false }
        try FileSystem.removeTree("\(root)/leases/\(owner)")
        return true
    }

    /// The leases held.
    public func leases() throws(FascoError) -> [Lease] {
        try readLeases().leases
    }

    /// The leases held, and the lease files that cannot be read or decoded (which may keep
    /// any snapshot: a collection keeps every snapshot while there is one).
    func readLeases() throws(FascoError) -> (leases: [Lease], unreadable: [String]) {
        var leases: [Lease] = []
        var unreadable: [String] = []
        for name in try FileSystem.list(root + "/leases") where !name.hasPrefix(".tmp-") {
            let path = "\(root)/leases/\(name)"
            do {
                guard let bytes = try FileSystem.read(path, limit: 1 << 20) else { continue }  // removed meanwhile
                leases.append(try JSONDecoder().decode(Lease.self, from: Data(bytes)))
            } catch {
                unreadable.append(path)
            }
        }
        return (leases, unreadable)
    }

    static func isSafeName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 128 && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }
    }

    // MARK: Helpers

    private func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws(FascoError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw .failedPrecondition("\(what) is not valid: \(error)")
        }
    }

    static func nowNanos() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

/// Runs `body` for every element concurrently; the first error cancels the rest and is thrown.
func withThrowingTaskGroupTyped<Element: Sendable>(
    _ elements: [Element], _ body: @escaping @Sendable (Element) async throws(FascoError) -> Void
) async throws(FascoError) {
    do {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for element in elements { group.addTask { try await body(element) } }
            try await group.waitForAll()
        }
    } catch let error as FascoError {
        throw error
    } catch {
        throw .internal("a concurrent step failed", cause: error)
    }
}
