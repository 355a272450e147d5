import CImageLibs
import FascoCore
import OCISpec

/// Turns an OCI image layer blob into files: applies its changeset (image-spec
/// layer.md, "Applying Changesets" and "Whiteouts") onto a directory that holds
/// the result of the parent layers (or nothing, for the first layer).
///
/// One pass over the blob: read in large blocks → decompress (zlib / libzstd) →
/// hash the uncompressed tar bytes (the DiffID) → libarchive's tar reader (pax,
/// GNU and ustar; no filters) through `archive_read_open` callbacks → each entry
/// applied with descriptor-relative system calls that cannot leave the root (see
/// `LayerApplier`). File data is written straight from libarchive's blocks.
public struct LayerUnpacker {
    public struct Result: Sendable, Equatable {
        /// The digest of the uncompressed tar stream.
        public var diffID: Digest
        /// The size of the uncompressed tar stream.
        public var uncompressedBytes: Int64
        /// The tar entries read, including whiteouts.
        public var entries: Int

        public init(diffID: Digest, uncompressedBytes: Int64, entries: Int) {
            self.diffID = diffID
            self.uncompressedBytes = uncompressedBytes
            self.entries = entries
        }
    }

    public struct Options: Sendable {
        /// Give files the uid/gid recorded in the layer (needs root). When false,
        /// files belong to the caller and device nodes that cannot be created
        /// without privileges are skipped (rootless unpacking).
        public var preserveOwnership = true
        /// When set, the DiffID is checked once the stream has ended; on a
        /// mismatch `apply` throws and the root must be discarded. Its algorithm
        /// is the one the DiffID is computed with.
        public var expectedDiffID: Digest? = nil
        /// How far the layer may expand (uncompressed bytes, entries); checked while it streams.
        public var limits = LayerLimits()
        /// What errors call the layer, e.g. its digest; nil names the blob's path.
        public var layerName: String? = nil

        public init(preserveOwnership: Bool = true, expectedDiffID: Digest? = nil, limits: LayerLimits = LayerLimits(),
                    layerName: String? = nil) {
            self.preserveOwnership = preserveOwnership
            self.expectedDiffID = expectedDiffID
            self.limits = limits
            self.layerName = layerName
        }
    }

    /// Applies the layer blob at `blobPath` (compressed as `compression`) onto the
    /// directory `root`, which already holds the parent layers' result or is empty.
    ///
    /// Errors: `.notFound` when the blob or root is missing; `.invalidArgument`
    /// for a malformed blob (bad compression, truncation, not a tar), an entry
    /// that would escape the root, or a DiffID mismatch; `.resourceExhausted` for a
    /// layer past `options.limits` (refused while streaming, before more than the bound
    /// is written) or when the filesystem is full; `.permissionDenied` or `.internal`
    /// when the filesystem refuses. After an error `root` is partly written and should
    /// be discarded.
    public static func apply(
        blobPath: String, compression: LayerCompression, to root: String, options: Options = .init()
    ) throws(FascoError) -> Result {
        let source = try LayerSource(
            blobPath: blobPath, compression: compression, algorithm: options.expectedDiffID?.algorithm ?? .sha256,
            limits: options.limits, layerName: options.layerName)
        var applier = try LayerApplier(root: root, preserveOwnership: options.preserveOwnership)

        guard let archive = archive_read_new() else { throw .internal("cannot allocate a libarchive reader") }
        defer { archive_read_free(archive) }
        // Tar in all its dialects (ustar, pax, GNU, v7), and the empty stream. No
        // filters: decompression happens in `LayerSource`, where it is hashed.
        archive_read_support_format_tar(archive)
        archive_read_support_format_empty(archive)

        let clientData = Unmanaged.passUnretained(source).toOpaque()
        let opened = archive_read_open(archive, clientData, nil, { _, clientData, buffer in
            guard let clientData, let buffer else { return -1 }
            return Unmanaged<LayerSource>.fromOpaque(clientData).takeUnretainedValue().archiveRead(buffer)
        }, nil)
        guard opened == ARCHIVE_OK else {
            throw UnpackArchive.error(archive, source: source, context: "cannot read the layer")
        }

        var entries = 0
        while true {
            var entry: OpaquePointer?
            let rc = archive_read_next_header(archive, &entry)
            if rc == ARCHIVE_EOF { break }
            guard rc == ARCHIVE_OK || rc == ARCHIVE_WARN, let entry else {
                let context = entries == 0 ? "cannot read the layer" : "cannot read the layer after \(entries) entries"
                throw UnpackArchive.error(archive, source: source, context: context)
            }
            entries += 1
            guard entries <= options.limits.maxEntries else {
                throw options.limits.entriesExceeded(layer: source.layerName)
            }
            try applier.apply(entry, archive: archive, source: source)
        }

        try source.drain()
        let (diffID, bytes) = source.result()
        if let expected = options.expectedDiffID, expected != diffID {
            throw .invalidArgument("layer blob \(blobPath): its uncompressed content has digest \(diffID), "
                + "not the expected DiffID \(expected)")
        }
        try applier.finish()
        return Result(diffID: diffID, uncompressedBytes: bytes, entries: entries)
    }

    /// The compression of a blob of unknown type, from its magic bytes: gzip
    /// (1f 8b), zstd (28 b5 2f fd), otherwise uncompressed.
    public static func detectCompression(blobPath: String) -> LayerCompression {
        LayerSource.sniff(blobPath: blobPath)
    }
}
