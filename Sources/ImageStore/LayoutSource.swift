import FascoCore
import FoundationEssentials
import OCISpec
#if canImport(Glibc)
import Glibc
#endif

/// An OCI image layout directory (image-layout.md) as an image source: `fasco image import`.
struct LayoutSource: ImageSource {
    let directory: String

    func manifest(repository: String, reference: String) async throws(FascoError) -> FetchedManifest {
        let digest: Digest
        let mediaType: String
        if let parsed = try? Digest(parsing: reference) {  // a probe: a digest, else a name in the index
            digest = parsed
            mediaType = ""
        } else {
            guard let descriptor = try Self.index(directory).manifests.first(where: { Self.refName($0) == reference }) else {
                throw .notFound("no image named \(reference) in \(directory)")
            }
            digest = try Digest(parsing: descriptor.digest)
            mediaType = descriptor.mediaType
        }
        let bytes = try Self.readBlob(directory, digest, limit: 8 << 20)
        return FetchedManifest(bytes: bytes, mediaType: mediaType.isEmpty ? Self.mediaType(of: bytes) : mediaType, digest: digest)
    }

    func blob(repository: String, digest: Digest, size: Int64, into writer: BlobWriter) async throws(FascoError) {
        let path = Self.blobPath(directory, digest)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .notFound("blob \(digest) is missing from \(directory)") }
        defer { close(fd) }
        try writer.restart()
        try FileSystem.readChunks(fd, path: path) { (chunk) throws(FascoError) in try writer.append(chunk) }
    }

    static func index(_ directory: String) throws(FascoError) -> Index {
        guard let bytes = try FileSystem.read(directory + "/index.json", limit: 8 << 20) else {
            throw .invalidArgument("\(directory) is not an OCI image layout (no index.json)")
        }
        do {
            return try JSONDecoder().decode(Index.self, from: Data(bytes))
        } catch {
            throw .invalidArgument("\(directory)/index.json is not an OCI index: \(error)")
        }
    }

    /// The name a layout gives a manifest: containerd's full name, else the OCI ref name.
    static func refName(_ descriptor: Descriptor) -> String? {
        descriptor.annotations?["io.containerd.image.name"] ?? descriptor.annotations?["org.opencontainers.image.ref.name"]
    }

    static func blobPath(_ directory: String, _ digest: Digest) -> String {
        "\(directory)/blobs/\(digest.algorithm.rawValue)/\(digest.encoded)"
    }

    static func readBlob(_ directory: String, _ digest: Digest, limit: Int) throws(FascoError) -> [UInt8] {
        guard let bytes = try FileSystem.read(blobPath(directory, digest), limit: limit) else {
            throw .notFound("blob \(digest) is missing from \(directory)")
        }
        guard Digest.of(bytes, algorithm: digest.algorithm) == digest else {
            throw .failedPrecondition("blob \(digest) in \(directory) does not match its digest")
        }
        return bytes
    }

    static func mediaType(of bytes: [UInt8]) -> String {
        struct Probe: Decodable { var mediaType: String?; var manifests: [Descriptor]? }
        let probe = try? JSONDecoder().decode(Probe.self, from: Data(bytes))  // a guess; decoding the manifest says what is wrong
        if let mediaType = probe?.mediaType { return mediaType }
        return probe?.manifests != nil ? MediaType.ociIndex : MediaType.ociManifest
    }
}
