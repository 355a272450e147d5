import FascoCore
import Foundation
import ImageStore
import OCISpec
import Testing

/// Against a real docker-registry: what a pull does.
@Suite("registry client against docker-registry", .testRegistry(.plain))
struct RegistryClientTests {
    private func uniqueRepository(_ name: String) -> String { "fasco/\(name)-\(UUID().uuidString.prefix(8).lowercased())" }

    @Test("a manifest by tag and by digest, with its media type and digest")
    func manifestByTagAndDigest() async throws {
        let registry = try TestRegistry.suite()
        let repository = uniqueRepository("manifest")
        let image = try RegistryTestImage(layerSizes: [1000])
        let digest = try await registry.pusher.pushImage(repository, tag: "v1", image: image)

        let client = try registry.client()
        let byTag = try await client.manifest(repository: repository, reference: "v1")
        #expect(byTag.bytes == image.manifest)
        #expect(byTag.mediaType == MediaType.ociManifest)
        #expect(byTag.digest == digest)

        let byDigest = try await client.manifest(repository: repository, reference: digest.description)
        #expect(byDigest.bytes == image.manifest)
        #expect(byDigest.digest == digest)
    }

    @Test("a missing tag or digest is NOT_FOUND naming the image and the registry's words")
    func manifestNotFound() async throws {
        let registry = try TestRegistry.suite()
        let repository = uniqueRepository("missing")
        try await registry.pusher.pushImage(repository, tag: "v1", image: RegistryTestImage(layerSizes: [10]))
        let client = try registry.client()
        let error = await #expect(throws: FascoError.self) {
            try await client.manifest(repository: repository, reference: "nope")
        }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("image \(registry.host)/\(repository):nope not found") == true)
        #expect(error?.message.contains("registry says: manifest unknown") == true)

        let absent = Digest.of(Array("absent".utf8))
        let byDigest = await #expect(throws: FascoError.self) {
            try await client.manifest(repository: repository, reference: absent.description)
        }
        #expect(byDigest?.code == .notFound)
        #expect(byDigest?.message.contains("@\(absent)") == true)
    }

    @Test("an index resolves to the amd64 manifest; a platform it lacks is NOT_FOUND listing what it has")
    func indexPlatformResolution() async throws {
        let registry = try TestRegistry.suite()
        let repository = uniqueRepository("multi")
        let amd64 = try RegistryTestImage(layerSizes: [100])
        let arm64 = try RegistryTestImage(layerSizes: [100], platform: Platform(architecture: "arm64", os: "linux", variant: "v8"))
        for image in [amd64, arm64] {
            try await registry.pusher.pushImage(repository, tag: "only-\(image.platform.architecture)", image: image)
        }
        let index = try makeTestIndex([arm64.descriptor, amd64.descriptor])
        let indexDigest = try await registry.pusher.pushManifest(repository, reference: "multi", index, mediaType: MediaType.ociIndex)

        let client = try registry.client()
        let fetched = try await client.manifest(repository: repository, reference: "multi")
        #expect(fetched.mediaType == MediaType.ociIndex)
        #expect(fetched.digest == indexDigest)

        let chosen = try PlatformMatcher.select(fromIndex: fetched.bytes, for: Platform(architecture: "amd64", os: "linux"))
        #expect(chosen.digest == amd64.manifestDigest.description)
        let arm = try PlatformMatcher.select(fromIndex: fetched.bytes, for: Platform(architecture: "arm64", os: "linux"))
        #expect(arm.digest == arm64.manifestDigest.description)

        let platformManifest = try await client.manifest(repository: repository, reference: chosen.digest)
        #expect(platformManifest.bytes == amd64.manifest)
        #expect(platformManifest.mediaType == MediaType.ociManifest)

        let missing = #expect(throws: FascoError.self) {
            try PlatformMatcher.select(fromIndex: fetched.bytes, for: Platform(architecture: "s390x", os: "linux"))
        }
        #expect(missing?.code == .notFound)
        #expect(missing?.message.contains("linux/s390x") == true)
        #expect(missing?.message.contains("linux/amd64") == true)
        #expect(missing?.message.contains("linux/arm64/v8") == true)
    }

    @Test("a blob streams with the right bytes, digest and offsets")
    func blobStreams() async throws {
        let registry = try TestRegistry.suite()
        let repository = uniqueRepository("blob")
        let bytes = randomTestBytes(3 << 20 + 17)
        let digest = try await registry.pusher.pushBlob(repository, bytes)
        let sink = RegistryTestSink()
        try await registry.client().fetchBlob(repository: repository, digest: digest, size: Int64(bytes.count)) { sink.receive($0, at: $1) }
        #expect(sink.bytes == bytes)
        #expect(sink.chunkOffsets.first == 0)
        #expect(sink.chunkOffsets.count > 1)
    }

    @Test("a blob corrupted in the registry's storage fails digest verification")
    func corruptBlob() async throws {
        let registry = try TestRegistry.suite()
        let repository = uniqueRepository("corrupt")
        var bytes = randomTestBytes(200_000)
        let digest = try await registry.pusher.pushBlob(repository, bytes)
        bytes[100_000] ^= 0xff
        try Data(bytes).write(to: URL(fileURLWithPath: registry.blobDataPath(digest)))

        let error = await #expect(throws: FascoError.self) {
            try await registry.client().fetchBlob(repository: repository, digest: digest, size: Int64(bytes.count)) { _, _ in }
        }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.message.contains("does not match its digest: expected \(digest), got \(Digest.of(bytes))") == true)
    }

    @Test("a blob larger than its descriptor says fails before the body is read")
    func blobLargerThanDeclared() async throws {
        let registry = try TestRegistry.suite()
        let repository = uniqueRepository("large")
        let bytes = randomTestBytes(4 << 20)
        let digest = try await registry.pusher.pushBlob(repository, bytes)
        let sink = RegistryTestSink()
        let error = await #expect(throws: FascoError.self) {
            try await registry.client().fetchBlob(repository: repository, digest: digest, size: 1000) { sink.receive($0, at: $1) }
        }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.message.contains("has \(bytes.count) bytes, its descriptor says 1000") == true)
        #expect(sink.bytes.isEmpty)
    }

    @Test("resuming from an offset fetches only the rest and verifies the whole digest")
    func resumeFromOffset() async throws {
        let registry = try TestRegistry.suite()
        let repository = uniqueRepository("resume")
        let bytes = randomTestBytes(1 << 20)
        let digest = try await registry.pusher.pushBlob(repository, bytes)
        let held = 300_001
        var hasher = DigestHasher()
        hasher.update(Array(bytes[..<held]))
        let sink = RegistryTestSink()
        try await registry.client().fetchBlob(repository: repository, digest: digest, size: Int64(bytes.count), resumingFrom: hasher) {
            sink.receive($0, at: $1)
        }
        #expect(sink.chunkOffsets.first == Int64(held))
        #expect(sink.bytes == Array(bytes[held...]))

        // A wrong prefix is caught by the digest.
        let error = await #expect(throws: FascoError.self) {
            var wrong = DigestHasher()
            wrong.update(randomTestBytes(held))
            try await registry.client().fetchBlob(repository: repository, digest: digest, size: Int64(bytes.count), resumingFrom: wrong) { _, _ in }
        }
        #expect(error?.code == .failedPrecondition)
    }

    @Test("a pull into the content store resumes a partial ingest file and commits")
    func resumeIntoContentStore() async throws {
        let registry = try TestRegistry.suite()
        let repository = uniqueRepository("store")
        let bytes = randomTestBytes(700_000)
        let digest = try await registry.pusher.pushBlob(repository, bytes)
        let directory = try RegistryTestDirectory("store")
        defer { directory.remove() }
        let store = try ContentStore(root: directory.path)
        try Data(bytes[..<250_000]).write(to: URL(fileURLWithPath: "\(directory.path)/ingest/sha256-\(digest.encoded)"))

        let writer = try store.ingest(digest, size: Int64(bytes.count))
        #expect(writer.written == 250_000)
        try await registry.client().blob(repository: repository, digest: digest, size: Int64(bytes.count), into: writer)
        try writer.commit()
        #expect(try store.read(digest, limit: 1 << 20) == bytes)
    }

    @Test("a dead mirror and a mirror without the image fall through to the upstream")
    func mirrorsFallThrough() async throws {
        let registry = try TestRegistry.suite()
        let repository = uniqueRepository("mirror")
        let image = try RegistryTestImage(layerSizes: [5000])
        let digest = try await registry.pusher.pushImage(repository, tag: "v1", image: image)
        let emptyMirror = try await StubRegistryServer(routes: [:])
        defer { emptyMirror.stop() }

        let client = try registry.client(endpoints: [
            RegistryEndpoint(url: "http://127.0.0.1:1", isMirror: true),
            RegistryEndpoint(url: emptyMirror.url, isMirror: true),
            registry.endpoint,
        ])
        #expect(client.endpoints.map(\.isMirror) == [true, true, false])
        let started = ContinuousClock.now
        let manifest = try await client.manifest(repository: repository, reference: "v1")
        #expect(manifest.digest == digest)
        #expect(ContinuousClock.now - started < .seconds(20))
        let layer = try #require(image.layers.first)
        let sink = RegistryTestSink()
        try await client.fetchBlob(repository: repository, digest: Digest.of(layer), size: Int64(layer.count)) { sink.receive($0, at: $1) }
        #expect(sink.bytes == layer)

        let asked = try await emptyMirror.requests().map(\.path)
        #expect(asked == ["/v2/\(repository)/manifests/v1", "/v2/\(repository)/blobs/\(Digest.of(layer))"])
    }

    @Test("a mirror that has the image serves it without the upstream")
    func mirrorServes() async throws {
        let registry = try TestRegistry.suite()
        let repository = uniqueRepository("mirrored")
        let image = try RegistryTestImage(layerSizes: [10])
        let digest = try await registry.pusher.pushImage(repository, tag: "v1", image: image)
        let client = try RegistryClient(host: "upstream.invalid", endpoints: [
            RegistryEndpoint(url: "http://127.0.0.1:1"),
            RegistryEndpoint(url: registry.url, isMirror: true),
        ])
        #expect(client.endpoints.map(\.url) == [registry.url, "http://127.0.0.1:1"])
        let manifest = try await client.manifest(repository: repository, reference: "v1")
        #expect(manifest.digest == digest)
    }

    @Test("when every endpoint fails, the upstream's error is the answer and names the mirrors")
    func allEndpointsFail() async throws {
        let registry = try TestRegistry.suite()
        let repository = uniqueRepository("nowhere")
        let client = try registry.client(endpoints: [RegistryEndpoint(url: "http://127.0.0.1:1", isMirror: true), registry.endpoint])
        let error = await #expect(throws: FascoError.self) {
            try await client.manifest(repository: repository, reference: "v1")
        }
        #expect(error?.code == .notFound)
        #expect(error?.message.contains("mirrors tried first: http://127.0.0.1:1") == true)
    }

    @Test("invalid repository names and references are INVALID_ARGUMENT before any request")
    func invalidNames() async throws {
        let client = try TestRegistry.suite().client()
        for (repository, reference) in [("UPPER/case", "v1"), ("a/../b", "v1"), ("ok", "bad tag"), ("ok", "sha256:xyz")] {
            let error = await #expect(throws: FascoError.self) {
                try await client.manifest(repository: repository, reference: reference)
            }
            #expect(error?.code == .invalidArgument)
        }
    }
}

@Suite("platform selection from index bytes")
struct RegistryPlatformSelectionTests {
    private func entry(_ architecture: String, _ variant: String? = nil, os: String = "linux", digit: Character) -> Descriptor {
        Descriptor(mediaType: MediaType.ociManifest, digest: "sha256:" + String(repeating: digit, count: 64), size: 100,
                   platform: Platform(architecture: architecture, os: os, variant: variant))
    }

    @Test("amd64 is chosen among others; arm64 without a variant means v8; an exact variant wins")
    func rules() throws {
        let index = try makeTestIndex([
            entry("arm64", digit: "1"), entry("amd64", digit: "2"), entry("arm", "v7", digit: "3"),
            entry("arm64", "v9", digit: "4"), entry("amd64", os: "windows", digit: "5"),
        ])
        #expect(try PlatformMatcher.select(fromIndex: index, for: Platform(architecture: "amd64", os: "linux")).digest.hasSuffix("2222"))
        #expect(try PlatformMatcher.select(fromIndex: index, for: Platform(architecture: "arm64", os: "linux", variant: "v8")).digest.hasSuffix("1111"))
        #expect(try PlatformMatcher.select(fromIndex: index, for: Platform(architecture: "arm64", os: "linux", variant: "v9")).digest.hasSuffix("4444"))
        #expect(try PlatformMatcher.select(fromIndex: index, for: Platform(architecture: "amd64", os: "windows")).digest.hasSuffix("5555"))
    }

    @Test("a document that is not an index is FAILED_PRECONDITION")
    func notAnIndex() {
        let error = #expect(throws: FascoError.self) {
            try PlatformMatcher.select(fromIndex: Array("{]".utf8), for: Platform(architecture: "amd64", os: "linux"))
        }
        #expect(error?.code == .failedPrecondition)
    }
}
