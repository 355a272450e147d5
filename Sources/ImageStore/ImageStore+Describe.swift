import FascoCore
import FoundationEssentials
import OCISpec

extension ImageStore {
    /// The record of `name` in the image store at `directory` (`<root>/images`), read without
    /// opening the store: for tools that must not change it (`fasco measure`). Nil when not there.
    public static func describe(_ name: String, storeDirectory directory: String) throws(FascoError) -> ImageRecord? {
        guard FileSystem.exists(directory + "/images.json") else { return nil }
        return lookup(name, in: try ImageIndex(path: directory + "/images.json").records)
    }

    /// What an OCI image layout holds for `platform`: its manifest digest, config and layers,
    /// read without unpacking anything. The layout must hold one image (or name it by `ref`).
    public static func describeLayout(_ directory: String, ref: String? = nil, platform: Platform = .host) throws(FascoError) -> ImageRecord {
        let manifests = try LayoutSource.index(directory).manifests
        let candidates = ref.map { wanted in manifests.filter { LayoutSource.refName($0) == wanted } } ?? manifests
        guard candidates.count == 1, var descriptor = candidates.first else {
            throw .invalidArgument("\(directory) holds \(candidates.count) images\(ref.map { " named \($0)" } ?? ""): name one")
        }
        var bytes = try LayoutSource.readBlob(directory, try Digest(parsing: descriptor.digest), limit: 8 << 20)
        if MediaType.indexes.contains(descriptor.mediaType) || looksLikeIndex(bytes) {
            let index: Index
            do { index = try JSONDecoder().decode(Index.self, from: Data(bytes)) } catch {
                throw .invalidArgument("image index \(descriptor.digest) in \(directory) is not valid: \(error)")
            }
            descriptor = try PlatformMatcher.select(from: index, for: platform)
            bytes = try LayoutSource.readBlob(directory, try Digest(parsing: descriptor.digest), limit: 8 << 20)
        }
        let manifest: Manifest
        let config: ImageConfiguration
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: Data(bytes))
            let configBytes = try LayoutSource.readBlob(directory, try Digest(parsing: manifest.config.digest), limit: 8 << 20)
            config = try JSONDecoder().decode(ImageConfiguration.self, from: Data(configBytes))
        } catch let error as FascoError {
            throw error
        } catch {
            throw .invalidArgument("the manifest or config of \(descriptor.digest) in \(directory) is not valid: \(error)")
        }
        return ImageRecord(
            id: try Digest(parsing: manifest.config.digest), repoTags: [], repoDigests: [],
            manifestDigest: try Digest(parsing: descriptor.digest), config: config, layers: manifest.layers, size: 0,
            createdAt: 0, pinned: false)
    }
}
