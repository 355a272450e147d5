import FascoCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Content-addressed blob storage: `blobs/<algorithm>/<hex>`.
///
/// A blob becomes visible under its digest only after it was written whole,
/// verified (digest and size), fsynced and renamed into place; downloads grow
/// in `ingest/` and survive a kill -9 as partial files that the next attempt
/// resumes or replaces. A blob shared by several images is stored once.
public struct ContentStore: Sendable {
    public let root: String
    /// Where a partial download that cannot be removed is reported.
    let logger: Logger

    public init(root: String, logger: Logger = Logger(label: "fasco.images")) throws(FascoError) {
        self.root = root
        self.logger = logger
        try FileSystem.makeDirectories(root + "/blobs/sha256")
        try FileSystem.makeDirectories(root + "/blobs/sha512")
        try FileSystem.makeDirectories(root + "/ingest")
    }

    public func path(of digest: Digest) -> String {
        "\(root)/blobs/\(digest.algorithm.rawValue)/\(digest.encoded)"
    }

    func ingestPath(of digest: Digest) -> String {
        "\(root)/ingest/\(digest.algorithm.rawValue)-\(digest.encoded)"
    }

    public func contains(_ digest: Digest) -> Bool { FileSystem.exists(path(of: digest)) }

    /// The stored size, or nil when absent.
    public func size(of digest: Digest) -> Int64? {
        var info = stat()
        return stat(path(of: digest), &info) == 0 ? Int64(info.st_size) : nil
    }

    /// A small blob's bytes (manifests, indexes, configs), verified against its digest.
    public func read(_ digest: Digest, limit: Int = 8 << 20) throws(FascoError) -> [UInt8] {
        guard let bytes = try FileSystem.read(path(of: digest), limit: limit) else {
            throw .notFound("content \(digest) is not in the store")
        }
        guard Digest.of(bytes, algorithm: digest.algorithm) == digest else {
            throw .internal("stored content \(digest) is corrupt")
        }
        return bytes
    }

    /// Stores bytes already in memory after checking them against `digest`.
    @discardableResult
    public func write(_ bytes: [UInt8], as digest: Digest) throws(FascoError) -> String {
        let actual = Digest.of(bytes, algorithm: digest.algorithm)
        guard actual == digest else {
            throw .failedPrecondition("content does not match its digest: expected \(digest), got \(actual)")
        }
        let destination = path(of: digest)
        if !FileSystem.exists(destination) { try FileSystem.writeAtomically(bytes, to: destination, mode: 0o644) }
        return destination
    }

    /// Opens (or resumes) the partial download of `digest`.
    public func ingest(_ digest: Digest, size: Int64) throws(FascoError) -> BlobWriter {
        try BlobWriter(store: self, digest: digest, size: size)
    }

    public func delete(_ digest: Digest) throws(FascoError) {
        guard unlink(path(of: digest)) == 0 || errno == ENOENT else {
            throw .internal("cannot delete \(digest): \(FileSystem.errnoText)")
        }
    }

    /// Every stored blob.
    public func allDigests() throws(FascoError) -> [Digest] {
        var digests: [Digest] = []
        for algorithm in [Digest.Algorithm.sha256, .sha512] {
            for name in try FileSystem.list("\(root)/blobs/\(algorithm.rawValue)") {
                // A name that is no digest is not a blob (writeAtomically's .tmp- files).
                if let digest = try? Digest(parsing: "\(algorithm.rawValue):\(name)") { digests.append(digest) }
            }
        }
        return digests
    }

    /// Bytes held by partial downloads.
    public func partialDownloads() throws(FascoError) -> [String] {
        try FileSystem.list(root + "/ingest")
    }

    /// Removes the temporary files a crash left in the blob directories (an atomic write's
    /// `.tmp-` file; at start-up, when no write runs). One that cannot be removed is logged.
    public func removeTemporaryFiles() throws(FascoError) {
        for algorithm in [Digest.Algorithm.sha256, .sha512] {
            let directory = "\(root)/blobs/\(algorithm.rawValue)"
            for name in try FileSystem.list(directory) where name.hasPrefix(".tmp-") {
                if unlink("\(directory)/\(name)") != 0 && errno != ENOENT {
                    logger.cleanUpFailed("remove a temporary blob file a crash left", error: FascoError.internal(FileSystem.errnoText),
                                         left: "\(directory)/\(name)")
                }
            }
        }
    }

    /// Removes partial downloads untouched for `age` seconds (at start-up, before any pull):
    /// younger ones are kept so that a pull repeated after a crash resumes them.
    public func removePartialDownloads(olderThan age: Int64 = 24 * 3600) throws(FascoError) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        for name in try partialDownloads() {
            var info = stat()
            let path = root + "/ingest/" + name
            guard stat(path, &info) == 0 else { continue }
            if Int64(now.tv_sec) - Int64(info.st_mtim.tv_sec) >= age { try FileSystem.removeTree(path) }
        }
    }
}

/// Writes one blob into the ingest area, hashing as it goes, and commits it under
/// its digest only when digest and size match.
public final class BlobWriter {
    public let digest: Digest
    public let expectedSize: Int64
    let store: ContentStore
    let partialPath: String
    private var fd: Int32
    private var hasher: DigestHasher
    public private(set) var written: Int64

    init(store: ContentStore, digest: Digest, size: Int64) throws(FascoError) {
        guard size >= 0 else { throw .invalidArgument("blob \(digest) has a negative size") }
        self.store = store
        self.digest = digest
        self.expectedSize = size
        partialPath = store.ingestPath(of: digest)
        fd = open(partialPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .internal("cannot open \(partialPath): \(FileSystem.errnoText)") }
        hasher = DigestHasher(digest.algorithm)
        written = 0
        // Resume: hash what an earlier attempt left; discard it if it is already too long.
        try FileSystem.readChunks(fd, path: partialPath) { (chunk) throws(FascoError) in
            hasher.update(chunk)
            written += Int64(chunk.count)
        }
        if written > size { try restart() }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Drops whatever was written and starts from zero.
    public func restart() throws(FascoError) {
        guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else {
            throw .internal("cannot truncate \(partialPath): \(FileSystem.errnoText)")
        }
        hasher = DigestHasher(digest.algorithm)
        written = 0
    }

    /// Appends bytes; more bytes than the descriptor's size is an error.
    public func append(_ bytes: UnsafeRawBufferPointer) throws(FascoError) {
        guard written + Int64(bytes.count) <= expectedSize else {
            throw .failedPrecondition("blob \(digest) is larger than its descriptor's \(expectedSize) bytes")
        }
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let count = write(fd, base + offset, bytes.count - offset)
            if count < 0 {
                if errno == EINTR { continue }
                throw .internal("cannot write \(partialPath): \(FileSystem.errnoText)")
            }
            offset += count
        }
        hasher.update(bytes)
        written += Int64(bytes.count)
    }

    /// Verifies digest and size, then makes the blob visible under its digest.
    /// On a mismatch the partial file is removed and the error names both digests.
    @discardableResult
    public func commit() throws(FascoError) -> String {
        let actual = hasher.finalizeCopy()
        guard written == expectedSize else {
            discard()
            throw .failedPrecondition("blob \(digest): received \(written) bytes, its descriptor says \(expectedSize)")
        }
        guard actual == digest else {
            discard()
            throw .failedPrecondition("blob content does not match its digest: expected \(digest), got \(actual)")
        }
        guard fsync(fd) == 0 else { throw .internal("cannot fsync \(partialPath): \(FileSystem.errnoText)") }
        close(fd)
        fd = -1
        let destination = store.path(of: digest)
        guard rename(partialPath, destination) == 0 else {
            throw .internal("cannot move \(digest) into the store: \(FileSystem.errnoText)")
        }
        try FileSystem.syncDirectory(FileSystem.parent(of: destination))
        return destination
    }

    /// Removes the partial file (a corrupt or abandoned download). One that cannot be removed
    /// is logged as a warning: the next download of the digest would resume from it (and fail
    /// its check again), and only a start a day later removes it.
    public func discard() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        guard unlink(partialPath) != 0, errno != ENOENT else { return }
        store.logger.cleanUpFailed("remove a partial download that must not be resumed",
                                   error: FascoError.internal("cannot remove \(partialPath): \(FileSystem.errnoText)"),
                                   left: partialPath, digest: digest)
    }
}
