import FascoCore
import Foundation
import ImageStore
import OCISpec
import Testing

@Suite("registry Basic auth against docker-registry with htpasswd", .testRegistry(.basicAuth("fasco", "s3cret-pass")))
struct RegistryBasicAuthTests {
    private func pushed() async throws -> (TestRegistry, String, RegistryTestImage, Digest) {
        let registry = try TestRegistry.suite()
        let repository = "auth/image-\(UUID().uuidString.prefix(8).lowercased())"
        let image = try RegistryTestImage(layerSizes: [2000])
        let digest = try await registry.pusher.pushImage(repository, tag: "v1", image: image)
        return (registry, repository, image, digest)
    }

    @Test("username and password pull a manifest and a blob")
    func usernamePassword() async throws {
        let (registry, repository, image, digest) = try await pushed()
        let client = try registry.client(credentials: RegistryCredentials(username: "fasco", password: "s3cret-pass"))
        #expect(try await client.manifest(repository: repository, reference: "v1").digest == digest)
        let layer = try #require(image.layers.first)
        let sink = RegistryTestSink()
        try await client.fetchBlob(repository: repository, digest: Digest.of(layer), size: Int64(layer.count)) { sink.receive($0, at: $1) }
        #expect(sink.bytes == layer)
    }

    @Test("the base64 auth field works like username and password")
    func authField() async throws {
        let (registry, repository, _, digest) = try await pushed()
        let auth = Data("fasco:s3cret-pass".utf8).base64EncodedString()
        let client = try registry.client(credentials: RegistryCredentials(auth: auth))
        #expect(try await client.manifest(repository: repository, reference: "v1").digest == digest)
    }

    @Test("a wrong password is UNAUTHENTICATED with the registry's message")
    func wrongPassword() async throws {
        let (registry, repository, _, _) = try await pushed()
        let client = try registry.client(credentials: RegistryCredentials(username: "fasco", password: "wrong"))
        let error = await #expect(throws: FascoError.self) {
            try await client.manifest(repository: repository, reference: "v1")
        }
        #expect(error?.code == .unauthenticated)
        #expect(error?.message.contains("registry \(registry.host) refused the credentials of user \"fasco\" for \(repository)") == true)
        #expect(error?.message.contains("registry says: authentication required (UNAUTHORIZED)") == true)
    }

    @Test("no credentials is UNAUTHENTICATED saying credentials are needed, without retries")
    func noCredentials() async throws {
        let (registry, repository, _, _) = try await pushed()
        // A retry would first wait 10 s: finishing well before that shows there was none.
        let client = try registry.client(credentials: RegistryCredentials(), retryPolicy: RegistryRetryPolicy(initialBackoff: .seconds(10)))
        let started = ContinuousClock.now
        let error = await #expect(throws: FascoError.self) {
            try await client.manifest(repository: repository, reference: "v1")
        }
        #expect(ContinuousClock.now - started < .seconds(8))  // no backoff happened
        #expect(error?.code == .unauthenticated)
        #expect(error?.message.contains("requires a username and password for \(repository) and none were given") == true)
    }
}

@Suite("registry over HTTPS with a private CA", .testRegistry(.https))
struct RegistryTLSTests {
    private func pushed() async throws -> (TestRegistry, String, Digest) {
        let registry = try TestRegistry.suite()
        let repository = "tls/image-\(UUID().uuidString.prefix(8).lowercased())"
        let digest = try await registry.pusher.pushImage(repository, tag: "v1", image: RegistryTestImage(layerSizes: [100]))
        return (registry, repository, digest)
    }

    @Test("trusting the CA file works")
    func caFile() async throws {
        let (registry, repository, digest) = try await pushed()
        let client = try registry.client(endpoints: [RegistryEndpoint(url: registry.url, caFile: registry.tls?.caCertificate)])
        #expect(try await client.manifest(repository: repository, reference: "v1").digest == digest)
        // A blob larger than the client's buffer, over HTTP/2 (Go's TLS server offers h2):
        // exercises pausing an HTTP/2 stream for a slow reader.
        let blob = randomTestBytes(5 << 20)
        let blobDigest = try await registry.pusher.pushBlob(repository, blob)
        let sink = RegistryTestSink()
        try await client.fetchBlob(repository: repository, digest: blobDigest, size: Int64(blob.count)) { bytes, offset in
            sink.receive(bytes, at: offset)
            usleep(200)
        }
        #expect(sink.bytes == blob)
    }

    @Test("without the CA the TLS failure is clear and not retried")
    func untrusted() async throws {
        let (registry, repository, _) = try await pushed()
        // A retry would first wait 10 s: finishing well before that shows there was none.
        let client = try registry.client(endpoints: [RegistryEndpoint(url: registry.url)],
                                         retryPolicy: RegistryRetryPolicy(initialBackoff: .seconds(10)))
        let started = ContinuousClock.now
        let error = await #expect(throws: FascoError.self) {
            try await client.manifest(repository: repository, reference: "v1")
        }
        #expect(ContinuousClock.now - started < .seconds(8))  // no backoff happened
        #expect(error?.code == .unavailable)
        #expect(error?.transportError?.kind == .tls)
        #expect(error?.message.contains("TLS failure") == true)
        #expect(error?.message.contains("certificate") == true)
        #expect(error?.message.contains("configure its CA file") == true)
    }

    @Test("insecureSkipVerify accepts the self-signed chain")
    func insecure() async throws {
        let (registry, repository, digest) = try await pushed()
        let client = try registry.client(endpoints: [RegistryEndpoint(url: registry.url, insecureSkipVerify: true)])
        #expect(try await client.manifest(repository: repository, reference: "v1").digest == digest)
    }
}

/// Docker token auth against a stub registry and token service.
@Suite("registry Bearer token auth")
struct RegistryBearerTests {
    static let manifest = Array(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[]}"#.utf8)
    static let challenge = #"Bearer realm="http://127.0.0.1:{port}/token",service="test",scope="repository:x:pull""#

    private func stub(token: StubRegistryServer.Response = .json(200, #"{"token":"tok-123","expires_in":300}"#),
                      tokenRoutes: [String: StubRegistryServer.Route] = [:]) async throws -> StubRegistryServer {
        var routes: [String: StubRegistryServer.Route] = [
            "GET /v2/x/manifests/v1": .init([.bytes(Self.manifest, headers: ["Content-Type": MediaType.ociManifest])],
                                            requireAuth: "Bearer tok-123",
                                            unauthorized: .registryError(401, code: "UNAUTHORIZED", message: "authentication required")
                                                .with(header: "WWW-Authenticate", Self.challenge)),
            "GET /token": .init([token]),
        ]
        routes.merge(tokenRoutes) { $1 }
        return try await StubRegistryServer(routes: routes)
    }

    @Test("an anonymous token is fetched with service and scope, then reused from the cache")
    func anonymousTokenCached() async throws {
        let stub = try await stub()
        defer { stub.stop() }
        let client = try RegistryClient(host: stub.host, endpoints: [RegistryEndpoint(url: stub.url)])
        let first = try await client.manifest(repository: "x", reference: "v1")
        #expect(first.bytes == Self.manifest)
        let second = try await client.manifest(repository: "x", reference: "v1")
        #expect(second.digest == first.digest)

        let tokenRequests = try await stub.requests("GET", "/token")
        #expect(tokenRequests.count == 1)
        #expect(tokenRequests.first?.parameters == ["service": "test", "scope": "repository:x:pull"])
        #expect(tokenRequests.first?.headers["authorization"] == nil)
        let registryRequests = try await stub.requests("GET", "/v2/x/manifests/v1").map { $0.headers["authorization"] }
        // Anonymous, then with the token; the second pull sends the cached token at once.
        #expect(registryRequests == [nil, "Bearer tok-123", "Bearer tok-123"])
    }

    @Test("another repository of the same registry gets its token before its first request")
    func secondRepositoryUpFront() async throws {
        let stub = try await stub(tokenRoutes: [
            "GET /v2/y/manifests/v1": .init([.bytes(Self.manifest, headers: ["Content-Type": MediaType.ociManifest])],
                                            requireAuth: "Bearer tok-123"),
        ])
        defer { stub.stop() }
        let client = try RegistryClient(host: stub.host, endpoints: [RegistryEndpoint(url: stub.url)])
        _ = try await client.manifest(repository: "x", reference: "v1")
        _ = try await client.manifest(repository: "y", reference: "v1")
        let scopes = try await stub.requests("GET", "/token").map { $0.parameters["scope"] }
        #expect(scopes == ["repository:x:pull", "repository:y:pull"])
        #expect(try await stub.requests("GET", "/v2/y/manifests/v1").map { $0.headers["authorization"] } == ["Bearer tok-123"])
    }

    @Test("username and password go to the token service as Basic credentials")
    func basicToTokenService() async throws {
        let stub = try await stub()
        defer { stub.stop() }
        let client = try RegistryClient(host: stub.host, endpoints: [RegistryEndpoint(url: stub.url)],
                                        credentials: RegistryCredentials(username: "alice", password: "pw"))
        _ = try await client.manifest(repository: "x", reference: "v1")
        let request = try #require(try await stub.requests("GET", "/token").first)
        #expect(request.headers["authorization"] == "Basic " + Data("alice:pw".utf8).base64EncodedString())
        #expect(request.parameters["account"] == "alice")
    }

    @Test("an identity token is exchanged with the OAuth2 POST, falling back to GET on 405")
    func identityToken() async throws {
        let oauth = try await stub(tokenRoutes: ["POST /token": .init([.json(200, #"{"access_token":"tok-123"}"#)])])
        defer { oauth.stop() }
        let client = try RegistryClient(host: oauth.host, endpoints: [RegistryEndpoint(url: oauth.url)],
                                        credentials: RegistryCredentials(identityToken: "refresh-me"))
        _ = try await client.manifest(repository: "x", reference: "v1")
        let post = try #require(try await oauth.requests("POST", "/token").first)
        #expect(post.form["grant_type"] == "refresh_token")
        #expect(post.form["refresh_token"] == "refresh-me")
        #expect(post.form["service"] == "test")
        #expect(post.form["scope"] == "repository:x:pull")
        #expect(try await oauth.requests("GET", "/token").isEmpty)

        let legacy = try await stub(tokenRoutes: ["POST /token": .init([.json(405, "")])])
        defer { legacy.stop() }
        let fallback = try RegistryClient(host: legacy.host, endpoints: [RegistryEndpoint(url: legacy.url)],
                                          credentials: RegistryCredentials(identityToken: "refresh-me"))
        _ = try await fallback.manifest(repository: "x", reference: "v1")
        let get = try #require(try await legacy.requests("GET", "/token").first)
        #expect(get.headers["authorization"] == "Basic " + Data("<token>:refresh-me".utf8).base64EncodedString())
    }

    @Test("a registry token is sent as the Bearer token without asking the token service")
    func registryToken() async throws {
        let stub = try await stub()
        defer { stub.stop() }
        let client = try RegistryClient(host: stub.host, endpoints: [RegistryEndpoint(url: stub.url)],
                                        credentials: RegistryCredentials(registryToken: "tok-123"))
        _ = try await client.manifest(repository: "x", reference: "v1")
        #expect(try await stub.requests("GET", "/token").isEmpty)
        #expect(try await stub.requests("GET", "/v2/x/manifests/v1").map { $0.headers["authorization"] } == ["Bearer tok-123"])
    }

    @Test("a token service that refuses the credentials is UNAUTHENTICATED with its message")
    func tokenRefused() async throws {
        let stub = try await stub(token: .json(401, #"{"details":"incorrect username or password"}"#))
        defer { stub.stop() }
        let client = try RegistryClient(host: stub.host, endpoints: [RegistryEndpoint(url: stub.url)],
                                        credentials: RegistryCredentials(username: "alice", password: "bad"))
        let error = await #expect(throws: FascoError.self) {
            try await client.manifest(repository: "x", reference: "v1")
        }
        #expect(error?.code == .unauthenticated)
        #expect(error?.message.contains("refused the credentials of user \"alice\" for x (HTTP 401)") == true)
        #expect(error?.message.contains("incorrect username or password") == true)
    }

    @Test("a token the registry still refuses is UNAUTHENTICATED after one retry")
    func tokenRejected() async throws {
        let stub = try await stub(token: .json(200, #"{"token":"not-the-right-one"}"#))
        defer { stub.stop() }
        let client = try RegistryClient(host: stub.host, endpoints: [RegistryEndpoint(url: stub.url)])
        let error = await #expect(throws: FascoError.self) {
            try await client.manifest(repository: "x", reference: "v1")
        }
        #expect(error?.code == .unauthenticated)
        #expect(error?.message.contains("refused anonymous access for x (HTTP 401); registry says: authentication required") == true)
        #expect(try await stub.requests("GET", "/v2/x/manifests/v1").count == 2)
    }

    @Test("an expired token is fetched again")
    func tokenExpiry() async throws {
        let stub = try await stub(token: .json(200, #"{"token":"tok-123","expires_in":1}"#))
        defer { stub.stop() }
        let client = try RegistryClient(host: stub.host, endpoints: [RegistryEndpoint(url: stub.url)])
        _ = try await client.manifest(repository: "x", reference: "v1")
        try await Task.sleep(for: .milliseconds(1100))
        _ = try await client.manifest(repository: "x", reference: "v1")
        #expect(try await stub.requests("GET", "/token").count == 2)
    }
}

extension StubRegistryServer.Response {
    func with(header name: String, _ value: String) -> Self {
        var copy = self
        copy.headers[name] = value
        return copy
    }
}
