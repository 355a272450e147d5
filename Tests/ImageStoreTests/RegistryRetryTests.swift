import FascoCore
import Foundation
import ImageStore
import OCISpec
import Testing

/// What a real registry will not do on demand: 5xx, 429, dropped connections, slow
/// bodies, servers that ignore Range. Against the programmable stub.
@Suite("registry retries, resumption and cancellation")
struct RegistryRetryTests {
    static let manifest = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[]}"#.utf8)
    static let fast = RegistryRetryPolicy(initialBackoff: .milliseconds(20))
    typealias Response = StubRegistryServer.Response

    private func client(_ stub: StubRegistryServer, policy: RegistryRetryPolicy = fast) throws -> RegistryClient {
        try RegistryClient(host: stub.host, endpoints: [RegistryEndpoint(url: stub.url)], retryPolicy: policy)
    }

    private static var manifestResponse: Response { .bytes(manifest, headers: ["Content-Type": MediaType.ociManifest]) }

    @Test("503 twice, then the manifest: three requests with 200 ms and 800 ms between them")
    func retriesServerErrors() async throws {
        let unavailable = Response.registryError(503, code: "UNAVAILABLE", message: "try later")
        let stub = try await StubRegistryServer(routes: ["GET /v2/r/manifests/v1": .init([unavailable, unavailable, Self.manifestResponse])])
        defer { stub.stop() }
        let started = ContinuousClock.now
        let fetched = try await client(stub, policy: RegistryRetryPolicy()).manifest(repository: "r", reference: "v1")
        let elapsed = ContinuousClock.now - started
        #expect(fetched.bytes == Self.manifest)
        #expect(try await stub.requests("GET", "/v2/r/manifests/v1").count == 3)
        #expect(elapsed >= .milliseconds(1000))
        #expect(elapsed < .seconds(15))
    }

    @Test("404 is not retried")
    func noRetryOnNotFound() async throws {
        let stub = try await StubRegistryServer(routes: [
            "GET /v2/r/manifests/v1": .init([.registryError(404, code: "MANIFEST_UNKNOWN", message: "manifest unknown")]),
        ])
        defer { stub.stop() }
        let error = await #expect(throws: FascoError.self) {
            try await client(stub).manifest(repository: "r", reference: "v1")
        }
        #expect(error?.code == .notFound)
        #expect(error?.message == "image \(stub.host)/r:v1 not found at \(stub.url); registry says: manifest unknown (MANIFEST_UNKNOWN)")
        #expect(try await stub.requests("GET", "/v2/r/manifests/v1").count == 1)
    }

    @Test("a registry that keeps failing is UNAVAILABLE after three attempts; 403 is PERMISSION_DENIED at once")
    func givesUp() async throws {
        let stub = try await StubRegistryServer(routes: [
            "GET /v2/r/manifests/v1": .init([.json(502, "bad gateway")]),
            "GET /v2/denied/manifests/v1": .init([.registryError(403, code: "DENIED", message: "requested access to the resource is denied")]),
        ])
        defer { stub.stop() }
        let error = await #expect(throws: FascoError.self) {
            try await client(stub).manifest(repository: "r", reference: "v1")
        }
        #expect(error?.code == .unavailable)
        #expect(error?.message == "\(stub.url) answered HTTP 502 for r; registry says: bad gateway (after 3 attempts)")
        #expect(try await stub.requests("GET", "/v2/r/manifests/v1").count == 3)

        let denied = await #expect(throws: FascoError.self) {
            try await client(stub).manifest(repository: "denied", reference: "v1")
        }
        #expect(denied?.code == .permissionDenied)
        #expect(denied?.message.contains("requested access to the resource is denied") == true)
        #expect(try await stub.requests("GET", "/v2/denied/manifests/v1").count == 1)
    }

    @Test("429 with Retry-After waits as asked")
    func retryAfter() async throws {
        let stub = try await StubRegistryServer(routes: [
            "GET /v2/r/manifests/v1": .init([.json(429, "slow down", headers: ["Retry-After": "1"]), Self.manifestResponse]),
        ])
        defer { stub.stop() }
        let started = ContinuousClock.now
        _ = try await client(stub).manifest(repository: "r", reference: "v1")
        #expect(ContinuousClock.now - started >= .seconds(1))
        #expect(try await stub.requests("GET", "/v2/r/manifests/v1").count == 2)
    }

    @Test("a mirror answering 503 is left at once for the upstream")
    func failingMirror() async throws {
        let mirror = try await StubRegistryServer(routes: ["GET /v2/r/manifests/v1": .init([.json(503, "")])])
        defer { mirror.stop() }
        let upstream = try await StubRegistryServer(routes: ["GET /v2/r/manifests/v1": .init([Self.manifestResponse])])
        defer { upstream.stop() }
        let client = try RegistryClient(host: upstream.host, endpoints: [RegistryEndpoint(url: mirror.url, isMirror: true),
                                                                         RegistryEndpoint(url: upstream.url)])
        #expect(try await client.manifest(repository: "r", reference: "v1").bytes == Self.manifest)
        #expect(try await mirror.requests().count == 1)
        #expect(try await upstream.requests().count == 1)
    }

    @Test("media type from the document when Content-Type is generic; a lying Docker-Content-Digest is refused")
    func manifestChecks() async throws {
        let index = try makeTestIndex([])
        let stub = try await StubRegistryServer(routes: [
            "GET /v2/r/manifests/generic": .init([.bytes(index, headers: ["Content-Type": "application/octet-stream"])]),
            "GET /v2/r/manifests/lying": .init([.bytes(Self.manifest, headers: [
                "Content-Type": MediaType.ociManifest, "Docker-Content-Digest": Digest.of(index).description])]),
            "GET /v2/r/manifests/huge": .init([.bytes(randomTestBytes(5 << 20), headers: ["Content-Type": MediaType.ociManifest])]),
            "GET /v2/r/manifests/schema1": .init([.json(200, #"{"schemaVersion":1,"name":"r","tag":"schema1"}"#,
                                                        headers: ["Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"])]),
        ])
        defer { stub.stop() }
        let client = try client(stub)
        #expect(try await client.manifest(repository: "r", reference: "generic").mediaType == MediaType.ociIndex)

        let lying = await #expect(throws: FascoError.self) { try await client.manifest(repository: "r", reference: "lying") }
        #expect(lying?.code == .failedPrecondition)
        #expect(lying?.message.contains("but the registry says \(Digest.of(index))") == true)

        let huge = await #expect(throws: FascoError.self) { try await client.manifest(repository: "r", reference: "huge") }
        #expect(huge?.code == .failedPrecondition)
        #expect(huge?.message.contains("larger than the 4 MiB accepted") == true)

        let schema1 = await #expect(throws: FascoError.self) { try await client.manifest(repository: "r", reference: "schema1") }
        #expect(schema1?.code == .failedPrecondition)
        #expect(schema1?.message.contains("schema 1") == true)
    }

    @Test("a connection dropped mid-blob is resumed with a Range request")
    func resumesAfterDrop() async throws {
        let blob = randomTestBytes(1 << 20)
        let digest = Digest.of(blob)
        var truncated = Response.bytes(blob)
        truncated.truncateAt = 400_000
        var ranged = Response.bytes(blob)
        ranged.ranges = true
        let stub = try await StubRegistryServer(routes: ["GET /v2/r/blobs/\(digest)": .init([truncated, ranged])])
        defer { stub.stop() }
        let sink = RegistryTestSink()
        try await client(stub).fetchBlob(repository: "r", digest: digest, size: Int64(blob.count)) { sink.receive($0, at: $1) }
        #expect(sink.bytes == blob)
        #expect(sink.chunkOffsets.contains(400_000))
        let requests = try await stub.requests("GET", "/v2/r/blobs/\(digest)")
        #expect(requests.map { $0.headers["range"] } == [nil, "bytes=400000-"])
    }

    @Test("a registry that ignores Range sends the whole blob again, which replaces the partial one")
    func rangeIgnored() async throws {
        let blob = randomTestBytes(300_000)
        let digest = Digest.of(blob)
        let stub = try await StubRegistryServer(routes: ["GET /v2/r/blobs/\(digest)": .init([.bytes(blob)])])
        defer { stub.stop() }
        var hasher = DigestHasher()
        hasher.update(Array(blob[..<1000]))
        let sink = RegistryTestSink()
        try await client(stub).fetchBlob(repository: "r", digest: digest, size: Int64(blob.count), resumingFrom: hasher) { sink.receive($0, at: $1) }
        #expect(sink.chunkOffsets.first == 0)
        #expect(sink.bytes == blob)
        #expect(try await stub.requests("GET", "/v2/r/blobs/\(digest)").first?.headers["range"] == "bytes=1000-")
    }

    @Test("a body longer than the declared size, without Content-Length, is cut off as it arrives")
    func overlongStream() async throws {
        let blob = randomTestBytes(8 << 20)
        let digest = Digest.of(blob)
        var response = Response.bytes(blob)
        response.noLength = true
        let stub = try await StubRegistryServer(routes: ["GET /v2/r/blobs/\(digest)": .init([response])])
        defer { stub.stop() }
        let sink = RegistryTestSink()
        let error = await #expect(throws: FascoError.self) {
            try await client(stub).fetchBlob(repository: "r", digest: digest, size: 100_000) { sink.receive($0, at: $1) }
        }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.message.contains("is larger than its descriptor's 100000 bytes") == true)
        #expect(sink.bytes.count <= 100_000)
    }

    @Test("cancelling a blob download stops it promptly")
    func cancelBlob() async throws {
        let digest = Digest.of(Array("never finishes".utf8))
        let size = 50 << 20
        let stub = try await StubRegistryServer(routes: [
            "GET /v2/r/blobs/\(digest)": .init([Response(trickle: .init(chunk: 4096, interval: 0.02, total: size))]),
        ])
        defer { stub.stop() }
        let client = try client(stub)
        let sink = RegistryTestSink()
        let task = Task {
            try await client.fetchBlob(repository: "r", digest: digest, size: Int64(size)) { sink.receive($0, at: $1) }
        }
        // Wait (boundedly) for the transfer to be under way; the machine may be busy.
        let started = ContinuousClock.now
        while sink.bytes.isEmpty && ContinuousClock.now - started < .seconds(20) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(!sink.bytes.isEmpty)
        let cancelled = ContinuousClock.now
        task.cancel()
        let result = await task.result
        #expect(ContinuousClock.now - cancelled < .seconds(15), "the 50 MiB trickle (minutes long) stopped early")
        guard case .failure(let error) = result, let error = error as? FascoError else {
            Issue.record("expected a cancellation error, got \(result)")
            return
        }
        #expect(error.isCancellation)
        let received = sink.bytes.count
        try await Task.sleep(for: .milliseconds(200))
        #expect(sink.bytes.count == received)
    }
}
