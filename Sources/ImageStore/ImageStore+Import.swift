import FascoCore
import FoundationEssentials
import OCISpec
#if canImport(Glibc)
import Glibc
#endif

extension ImageStore {
    /// Imports every image of an OCI image layout directory, or of an OCI or Docker
    /// archive (a tar of either), without a registry. Names come from the layout's
    /// annotations or the archive's RepoTags; `name` names images that have none
    /// (or, for a bare tag annotation such as `latest`, gives its repository).
    public func importImages(from path: String, name: String? = nil) async throws(FascoError) -> [ImageRecord] {
        guard FileSystem.exists(path) else { throw .notFound("\(path) does not exist") }
        if FileSystem.isDirectory(path) { return try await importLayout(path, name: name) }
        let scratch = "\(root)/import-\(UInt32.random(in: 0...UInt32.max))"
        try FileSystem.makeDirectories(scratch)
        defer {
            // Nothing else removes an import's scratch directory.
            do throws(FascoError) { try FileSystem.removeTree(scratch) } catch {
                logger.cleanUpFailed("remove an import's scratch directory", error: error, left: scratch)
            }
        }
        let limits = layerLimits
        try await BlockingWork.run { () throws(FascoError) in
            _ = try LayerUnpacker.apply(blobPath: path, compression: LayerUnpacker.detectCompression(blobPath: path),
                                        to: scratch, options: LayerUnpacker.Options(preserveOwnership: false, limits: limits))
        }
        if FileSystem.exists(scratch + "/index.json") { return try await importLayout(scratch, name: name) }
        if FileSystem.exists(scratch + "/manifest.json") { return try await importDockerArchive(scratch, name: name) }
        throw .invalidArgument("\(path) is neither an OCI layout nor an OCI or Docker archive")
    }

    private func importLayout(_ directory: String, name: String?) async throws(FascoError) -> [ImageRecord] {
        let source = LayoutSource(directory: directory)
        var imported: [ImageRecord] = []
        for descriptor in try LayoutSource.index(directory).manifests {
            let reference = try Self.importReference(LayoutSource.refName(descriptor), fallback: name)
            // Fetch by digest, then name the result with the layout's name.
            let pinned = try ImageReference(parsing: "\(reference.repository)@\(descriptor.digest)")
            var record = try await fetch(pinned, from: source)
            if let tagged = reference.taggedName, !record.repoTags.contains(tagged) {
                record.repoTags.append(tagged)
                record = try self.record(record)
            }
            imported.removeAll { $0.id == record.id }
            imported.append(record)
        }
        guard !imported.isEmpty else { throw .invalidArgument("\(directory) holds no images") }
        return imported
    }

    /// `docker save` archives: manifest.json lists each image's config file, layer tars and RepoTags.
    private func importDockerArchive(_ directory: String, name: String?) async throws(FascoError) -> [ImageRecord] {
        struct Entry: Decodable {
            var Config: String
            var RepoTags: [String]?
            var Layers: [String]
        }
        guard let bytes = try FileSystem.read(directory + "/manifest.json") else { throw .invalidArgument("no manifest.json") }
        let entries: [Entry]
        do { entries = try JSONDecoder().decode([Entry].self, from: Data(bytes)) } catch {
            throw .invalidArgument("manifest.json of the Docker archive is not valid: \(error)")
        }
        // Re-express each image as an OCI layout (blobs named by digest), then import that.
        let layout = directory + "/.oci"
        try FileSystem.makeDirectories(layout + "/blobs/sha256")
        var descriptors: [Descriptor] = []
        var moved: [String: Descriptor] = [:]  // images of one archive share layer files
        func blob(_ member: String, mediaType: (String) -> String) throws(FascoError) -> Descriptor {
            guard !member.contains(".."), !member.hasPrefix("/") else { throw .invalidArgument("bad archive member \(member)") }
            if let known = moved[member] { return known }
            let path = directory + "/" + member
            let descriptor = try Self.addBlob(path, to: layout, mediaType: mediaType(path))
            moved[member] = descriptor
            return descriptor
        }
        for entry in entries {
            let configDescriptor = try blob(entry.Config) { _ in MediaType.ociConfig }
            var layers: [Descriptor] = []
            for layer in entry.Layers {
                layers.append(try blob(layer) { path in
                    switch LayerUnpacker.detectCompression(blobPath: path) {
                    case .gzip: MediaType.ociLayerGzip
                    case .zstd: MediaType.ociLayerZstd
                    case .uncompressed: MediaType.ociLayer
                    }
                })
            }
            let manifest = Manifest(config: configDescriptor, layers: layers)
            let manifestBytes: [UInt8]
            do { manifestBytes = Array(try JSONEncoder().encode(manifest)) } catch { throw .internal("cannot encode manifest", cause: error) }
            let digest = Digest.of(manifestBytes)
            try FileSystem.writeAtomically(manifestBytes, to: LayoutSource.blobPath(layout, digest))
            let names = entry.RepoTags ?? []
            for tag in names.isEmpty ? [name].compactMap({ $0 }) : names {
                descriptors.append(Descriptor(mediaType: MediaType.ociManifest, digest: digest.description,
                                              size: Int64(manifestBytes.count), annotations: ["io.containerd.image.name": tag]))
            }
            if names.isEmpty && name == nil {
                throw .invalidArgument("an image in the archive has no RepoTags: give it a name")
            }
        }
        let index = Index(manifests: descriptors)
        do { try FileSystem.writeAtomically(Array(try JSONEncoder().encode(index)), to: layout + "/index.json") } catch let error as FascoError {
            throw error
        } catch { throw .internal("cannot encode index", cause: error) }
        return try await importLayout(layout, name: name)
    }

    /// Moves an archive member into the layout under its digest (hashed as it is read).
    private static func addBlob(_ path: String, to layout: String, mediaType: String) throws(FascoError) -> Descriptor {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .invalidArgument("the archive lacks \(FileSystem.basename(of: path))") }
        var hasher = DigestHasher()
        do throws(FascoError) {
            try FileSystem.readChunks(fd, path: path) { hasher.update($0) }
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        let size = hasher.byteCount
        let digest = hasher.finalize()
        guard rename(path, LayoutSource.blobPath(layout, digest)) == 0 || errno == ENOENT else {
            throw .internal("cannot move \(path): \(FileSystem.errnoText)")
        }
        return Descriptor(mediaType: mediaType, digest: digest.description, size: size)
    }

    /// The reference an imported image gets: a full name, a bare tag with `fallback` as repository, or `fallback`.
    static func importReference(_ annotation: String?, fallback: String?) throws(FascoError) -> ImageReference {
        if let annotation, !annotation.isEmpty {
            if ImageReference.isValidTag(annotation), !annotation.contains("/"), let fallback {
                let base = try ImageReference(parsing: fallback)
                return try ImageReference(parsing: "\(base.repository):\(annotation)")
            }
            if let full = try? ImageReference(parsing: annotation) { return full }  // else the fallback names it
        }
        guard let fallback else {
            throw .invalidArgument("an image has no name (no io.containerd.image.name or full org.opencontainers.image.ref.name): give it one")
        }
        return try ImageReference(parsing: fallback)
    }
}
