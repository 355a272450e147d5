import FascoCore
import FoundationEssentials
import ImageStore
import OCISpec
#if canImport(Glibc)
import Glibc
#endif

/// Builds small OCI image layouts on disk with tar and gzip, for tests that need images
/// without a registry.
enum TestImages {
    struct Built {
        var layout: String
        var configDigest: Digest
        var manifestDigest: Digest
    }

    /// A one-layer image holding `files` (path -> content), named `name` in the layout's index.
    static func layout(in directory: String, name: String, files: [String: String], user: String? = nil,
                       entrypoint: [String]? = nil) throws -> Built {
        let layout = directory + "/layout-\(UInt32.random(in: 0...UInt32.max))"
        let tree = layout + ".tree"
        try FileSystem.makeDirectories(layout + "/blobs/sha256")
        for (path, content) in files {
            try FileSystem.makeDirectories(FileSystem.parent(of: tree + "/" + path), mode: 0o755)
            try FileSystem.writeAtomically(Array(content.utf8), to: tree + "/" + path, mode: 0o644)
        }
        let tar = layout + ".tar"
        guard system("tar --numeric-owner --owner=0 --group=0 -C '\(tree)' -cf '\(tar)' . && gzip -n -f '\(tar)'") == 0,
              let compressed = try FileSystem.read(tar + ".gz"), let uncompressed = gunzip(tar + ".gz") else {
            throw FascoError.internal("tar/gzip failed")
        }
        try? FileSystem.removeTree(tree)
        unlink(tar + ".gz")
        let layerDigest = try store(compressed, in: layout)
        var config = ImageConfiguration(
            architecture: Platform.host.architecture, os: "linux",
            config: .init(user: user, env: ["PATH=/bin"], entrypoint: entrypoint, cmd: ["sh"]),
            rootfs: .init(diffIDs: [Digest.of(uncompressed).description]))
        config.created = "2026-01-01T00:00:00Z"
        let configBytes = Array(try JSONEncoder().encode(config))
        let configDigest = try store(configBytes, in: layout)
        let manifest = Manifest(
            config: Descriptor(mediaType: MediaType.ociConfig, digest: configDigest.description, size: Int64(configBytes.count)),
            layers: [Descriptor(mediaType: MediaType.ociLayerGzip, digest: layerDigest.description, size: Int64(compressed.count))])
        let manifestBytes = Array(try JSONEncoder().encode(manifest))
        let manifestDigest = try store(manifestBytes, in: layout)
        let index = Index(manifests: [Descriptor(
            mediaType: MediaType.ociManifest, digest: manifestDigest.description, size: Int64(manifestBytes.count),
            annotations: ["org.opencontainers.image.ref.name": name])])
        try FileSystem.writeAtomically(Array(try JSONEncoder().encode(index)), to: layout + "/index.json")
        try FileSystem.writeAtomically(Array(#"{"imageLayoutVersion":"1.0.0"}"#.utf8), to: layout + "/oci-layout")
        return Built(layout: layout, configDigest: configDigest, manifestDigest: manifestDigest)
    }

    private static func store(_ bytes: [UInt8], in layout: String) throws -> Digest {
        let digest = Digest.of(bytes)
        try FileSystem.writeAtomically(bytes, to: "\(layout)/blobs/sha256/\(digest.encoded)", mode: 0o644)
        return digest
    }

    private static func gunzip(_ path: String) -> [UInt8]? {
        let out = path + ".raw"
        defer { unlink(out) }
        guard system("gzip -dc '\(path)' > '\(out)'") == 0 else { return nil }
        return try? FileSystem.read(out)
    }
}
