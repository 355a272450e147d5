import FascoCore
import FoundationEssentials
import Metrics
import OCISpec

/// The pull side of the OCI Distribution API (v2) for one registry host, over its
/// mirrors and its own endpoint.
///
/// Endpoints are tried in order: mirrors first (one attempt each; any failure falls
/// through), then the upstream, whose connection failures, 5xx and 429 are retried with
/// exponential backoff and whose other failures (401, 403, 404, bad content) are final.
public final class RegistryClient: ImageSource {
    /// Blob bytes received from registries and mirrors (a resumed download counts what it
    /// fetched again; manifests are not counted): a swift-metrics Counter.
    public static let pulledBytesMetric = "fasco_image_pulled_bytes_total"

    public let host: String
    /// Mirrors in their configured order, then the upstream.
    public let endpoints: [RegistryEndpoint]
    public let retryPolicy: RegistryRetryPolicy
    let http: HTTPClient
    let authenticator: RegistryAuthenticator

    /// What a manifest GET accepts: indexes and image manifests, OCI and Docker schema 2.
    public static let manifestMediaTypes = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest]
    /// Manifests and indexes larger than this are refused (containerd's limit too).
    public static let maxManifestSize = 4 << 20

    /// - Parameters:
    ///   - host: the registry as image names spell it (`registry.k8s.io`, `127.0.0.1:5000`, `docker.io`).
    ///   - endpoints: mirrors and/or the upstream; without a non-mirror endpoint the upstream
    ///     is `https://<host>` (Docker Hub: `https://registry-1.docker.io`).
    public init(host: String, endpoints: [RegistryEndpoint] = [], credentials: RegistryCredentials = RegistryCredentials(),
                httpClient: HTTPClient = .shared, retryPolicy: RegistryRetryPolicy = RegistryRetryPolicy()) throws(FascoError) {
        guard !host.isEmpty, host.utf8.count <= 255, HTTPHeaders.isSafe(host),
              !host.contains("/"), !host.contains(" "), !host.contains("@") else {
            throw .invalidArgument("\"\(host.prefix(200))\" is not a registry host")
        }
        var upstreams = endpoints.filter { !$0.isMirror }
        if upstreams.isEmpty { upstreams = [.upstream(for: host)] }
        let ordered = endpoints.filter(\.isMirror) + upstreams
        for endpoint in ordered { try endpoint.validate() }
        self.host = host
        self.endpoints = ordered
        self.retryPolicy = retryPolicy
        self.http = httpClient
        self.authenticator = RegistryAuthenticator(host: host, credentials: credentials, http: httpClient)
    }

    // MARK: Manifests

    /// The manifest or index `reference` (a tag or a digest) names in `repository`.
    /// A digest reference is verified against the content; for a tag the digest is
    /// computed from the bytes and checked against `Docker-Content-Digest` when sent.
    public func manifest(repository: String, reference: String) async throws(FascoError) -> FetchedManifest {
        try Self.validate(repository: repository)
        let pinned: Digest?
        if reference.contains(":") {
            pinned = try Digest(parsing: reference)
        } else {
            guard ImageReference.isValidTag(reference) else {
                throw .invalidArgument("\"\(reference.prefix(200))\" is neither a tag nor a digest")
            }
            pinned = nil
        }
        let image = "\(host)/\(repository)\(pinned == nil ? ":" : "@")\(reference)"
        return try await onEndpoints { endpoint throws(AttemptFailure) in
            try await self.fetchManifest(from: endpoint, repository: repository, reference: reference, pinned: pinned, image: image)
        }
    }

    private func fetchManifest(from endpoint: RegistryEndpoint, repository: String, reference: String, pinned: Digest?,
                               image: String) async throws(AttemptFailure) -> FetchedManifest {
        var headers = HTTPHeaders()
        headers.add("Accept", Self.manifestMediaTypes.joined(separator: ", "))
        let transfer = try await open(endpoint, path: "/v2/\(repository)/manifests/\(reference)", headers: headers,
                                      repository: repository, timeout: .seconds(120))
        guard transfer.status == 200 else {
            throw await failure(of: transfer, endpoint: endpoint, repository: repository,
                                notFound: "image \(image) not found at \(endpoint.url)")
        }
        let bytes: [UInt8]
        do throws(FascoError) {
            bytes = try await transfer.collect(maxBytes: Self.maxManifestSize)
        } catch where error.code == .resourceExhausted {
            throw AttemptFailure(.failedPrecondition("the manifest of \(image) from \(endpoint.url) is larger than the \(Self.maxManifestSize >> 20) MiB accepted"),
                                 isBadContent: true)
        } catch {
            throw .transport(error, endpoint: endpoint)
        }
        let mediaType = try Self.mediaType(of: bytes, contentType: transfer.headers["Content-Type"], image: image)

        let digest: Digest
        if let pinned {
            let actual = Digest.of(bytes, algorithm: pinned.algorithm)
            guard actual == pinned else {
                throw AttemptFailure(.failedPrecondition("the manifest of \(image) from \(endpoint.url) does not match its digest: got \(actual)"),
                                     isBadContent: true)
            }
            digest = pinned
        } else {
            digest = Digest.of(bytes)
            // The header is optional: one that is no digest claims nothing to check against.
            if let text = transfer.headers["Docker-Content-Digest"], let claimed = try? Digest(parsing: text.httpTrimmed),
               Digest.of(bytes, algorithm: claimed.algorithm) != claimed {
                throw AttemptFailure(.failedPrecondition("the manifest of \(image) from \(endpoint.url) hashes to \(digest), but the registry says \(claimed)"),
                                     isBadContent: true)
            }
        }
        return FetchedManifest(bytes: bytes, mediaType: mediaType, digest: digest)
    }

    /// The media type from Content-Type when it names a manifest type, else from the
    /// document itself (its `mediaType`, or its shape).
    static func mediaType(of bytes: [UInt8], contentType: String?, image: String) throws(AttemptFailure) -> String {
        let declared = contentType?.split(separator: ";").first.map { $0.httpTrimmed.lowercased() } ?? ""
        if manifestMediaTypes.contains(declared) { return declared }
        struct Probe: Decodable {
            var schemaVersion: Int?
            var mediaType: String?
            var manifests: [Descriptor]?
            var config: Descriptor?
        }
        let schema1 = declared.hasPrefix("application/vnd.docker.distribution.manifest.v1")
        // A probe: a document that is not JSON is refused just below, saying so.
        let probe = try? JSONDecoder().decode(Probe.self, from: Data(bytes))
        if schema1 || probe?.schemaVersion == 1 {
            throw AttemptFailure(.failedPrecondition("\(image) is a Docker schema 1 manifest, which Fasco does not support; push the image again with a current client"))
        }
        guard let probe else {
            throw AttemptFailure(.failedPrecondition("the manifest of \(image) is not a JSON document (Content-Type \(declared.isEmpty ? "none" : declared))"),
                                 isBadContent: true)
        }
        if let type = probe.mediaType, manifestMediaTypes.contains(type) { return type }
        if probe.manifests != nil { return MediaType.ociIndex }
        if probe.config != nil { return MediaType.ociManifest }
        throw AttemptFailure(.failedPrecondition("\(image) is neither an image manifest nor an index (media type \(probe.mediaType ?? declared))"))
    }

    // MARK: Blobs

    /// Streams blob `digest` into `writer`, continuing from `writer.written` when the
    /// registry honours a Range request (and starting over when it does not). Sizes are
    /// enforced as bytes arrive; the writer verifies the digest when it commits.
    public func blob(repository: String, digest: Digest, size: Int64, into writer: BlobWriter) async throws(FascoError) {
        guard writer.digest == digest, writer.expectedSize == size else {
            throw .invalidArgument("the blob writer is for \(writer.digest) (\(writer.expectedSize) bytes), not \(digest) (\(size) bytes)")
        }
        try await streamBlob(repository: repository, digest: digest, size: size, startOffset: writer.written, deliver: { event throws(FascoError) in
            switch event {
            case .restart: try writer.restart()
            case .bytes(let bytes, _): try writer.append(bytes)
            }
        }, verify: {})
    }

    /// The whole of blob `digest` in memory, verified against its digest and `size`.
    public func smallBlob(repository: String, digest: Digest, size: Int64) async throws(FascoError) -> [UInt8] {
        var bytes: [UInt8] = []
        try await fetchBlob(repository: repository, digest: digest, size: size) { chunk, offset in
            if offset == 0 { bytes.removeAll() }
            bytes.append(contentsOf: chunk)
        }
        return bytes
    }

    /// Streams blob `digest` to `sink`, verifying its size as bytes arrive (more than
    /// `size` ends the transfer at once) and its digest at the end.
    ///
    /// - Parameters:
    ///   - partial: a hasher that has consumed the first `byteCount` bytes the caller
    ///     already holds (an interrupted download): the download continues after them.
    ///   - sink: receives each chunk with its offset in the blob. A chunk at offset 0
    ///     after a resume means the registry sent the whole blob again (or another
    ///     endpoint took over): drop what was held before. On an error the caller discards
    ///     what it received unless the error is a connection failure it wants to resume.
    nonisolated(nonsending)
    public func fetchBlob(repository: String, digest: Digest, size: Int64, resumingFrom partial: consuming DigestHasher? = nil,
                          to sink: (_ bytes: UnsafeRawBufferPointer, _ offset: Int64) throws -> Void) async throws(FascoError) {
        var hasher = DigestHasher(digest.algorithm)
        if let partial, partial.algorithm == digest.algorithm { hasher = partial }
        try await streamBlob(repository: repository, digest: digest, size: size, startOffset: hasher.byteCount, deliver: { event throws(FascoError) in
            switch event {
            case .restart:
                hasher = DigestHasher(digest.algorithm)
            case .bytes(let bytes, let offset):
                hasher.update(bytes)
                do {
                    try sink(bytes, offset)
                } catch let error as FascoError {
                    throw error
                } catch {
                    throw FascoError(.internal, "storing blob \(digest) failed", cause: error)
                }
            }
        }, verify: { () throws(FascoError) in
            let actual = hasher.finalizeCopy()
            guard hasher.byteCount == size, actual == digest else {
                throw .failedPrecondition("blob content does not match its digest: expected \(digest), got \(actual) (\(hasher.byteCount) bytes)")
            }
        })
    }

    enum BlobEvent {
        /// Drop everything received so far.
        case restart
        case bytes(UnsafeRawBufferPointer, offset: Int64)
    }

    /// The engine under both blob APIs: endpoints, retries, ranges, size checks.
    nonisolated(nonsending)
    func streamBlob(repository: String, digest: Digest, size: Int64, startOffset: Int64,
                    deliver: (BlobEvent) throws(FascoError) -> Void,
                    verify: () throws(FascoError) -> Void) async throws(FascoError) {
        try Self.validate(repository: repository)
        guard size >= 0 else { throw .invalidArgument("blob \(digest) has a negative size") }
        var received = startOffset
        if received > size {
            try deliver(.restart)
            received = 0
        }
        if received == size {
            // Everything is already here (or the blob is empty): no request needed if it verifies.
            do throws(FascoError) {
                try verify()
                return
            } catch {
                if received > 0 {
                    try deliver(.restart)
                    received = 0
                }
            }
        }
        try await onEndpoints { endpoint throws(AttemptFailure) in
            do throws(AttemptFailure) {
                try await self.fetchBlob(from: endpoint, repository: repository, digest: digest, size: size,
                                         received: &received, deliver: deliver, verify: verify)
            } catch {
                // Bytes from an endpoint that sent wrong content are worthless; bytes from one
                // that merely failed are a valid prefix the next attempt continues.
                if error.isBadContent && received > 0 {
                    do throws(FascoError) { try deliver(.restart) } catch { throw AttemptFailure(error, isFinal: true) }
                    received = 0
                }
                throw error
            }
        }
    }

    nonisolated(nonsending)
    private func fetchBlob(from endpoint: RegistryEndpoint, repository: String, digest: Digest, size: Int64, received: inout Int64,
                           deliver: (BlobEvent) throws(FascoError) -> Void,
                           verify: () throws(FascoError) -> Void) async throws(AttemptFailure) {
        func restart() throws(AttemptFailure) {
            do throws(FascoError) { try deliver(.restart) } catch { throw AttemptFailure(error, isFinal: true) }
            received = 0
        }
        let path = "/v2/\(repository)/blobs/\(digest)"
        var transfer: HTTPTransfer
        while true {
            var headers = HTTPHeaders()
            if received > 0 { headers.add("Range", "bytes=\(received)-") }
            transfer = try await open(endpoint, path: path, headers: headers, repository: repository, timeout: nil)
            guard received > 0, transfer.status == 416 else { break }
            // The registry cannot continue what is held: start over.
            transfer.cancel()
            try restart()
        }

        switch transfer.status {
        case 206 where received > 0:
            guard let start = Self.contentRangeStart(transfer.headers["Content-Range"]), start == received else {
                transfer.cancel()
                try restart()
                throw AttemptFailure(FascoError(.unavailable, "\(endpoint.url) answered a range request for blob \(digest) with another range"),
                                     retryable: true)
            }
        case 200:
            if received > 0 { try restart() }
        default:
            throw await failure(of: transfer, endpoint: endpoint, repository: repository,
                                notFound: "blob \(digest) not found in \(host)/\(repository) at \(endpoint.url)")
        }

        if let length = transfer.response.contentLength, length != size - received {
            transfer.cancel()
            throw AttemptFailure(.failedPrecondition("blob \(digest) from \(endpoint.url) has \(received + length) bytes, its descriptor says \(size)"),
                                 isBadContent: true)
        }
        let pulled = Counter(label: Self.pulledBytesMetric)
        while true {
            let next: [UInt8]?
            do throws(FascoError) { next = try await transfer.next() } catch { throw .transport(error, endpoint: endpoint) }
            guard let chunk = next else { break }
            guard Int64(chunk.count) <= size - received else {
                transfer.cancel()
                throw AttemptFailure(.failedPrecondition("blob \(digest) from \(endpoint.url) is larger than its descriptor's \(size) bytes"),
                                     isBadContent: true)
            }
            var failure: FascoError?
            chunk.withUnsafeBytes { bytes in
                do throws(FascoError) { try deliver(.bytes(bytes, offset: received)) } catch { failure = error }
            }
            if let failure {
                transfer.cancel()
                throw AttemptFailure(failure, isFinal: true)
            }
            received += Int64(chunk.count)
            pulled.increment(by: chunk.count)
        }
        guard received == size else {
            throw AttemptFailure(.failedPrecondition("blob \(digest) from \(endpoint.url) ended after \(received) of its \(size) bytes"),
                                 isBadContent: true)
        }
        do throws(FascoError) { try verify() } catch {
            var error = error
            error.message += " (from \(endpoint.url))"
            throw AttemptFailure(error, isBadContent: true)
        }
    }

    /// START of `bytes START-END/TOTAL`.
    static func contentRangeStart(_ value: String?) -> Int64? {
        guard let value = value?.httpTrimmed, value.hasPrefix("bytes ") else { return nil }
        let range = value.dropFirst(6).split(separator: "/").first ?? ""
        return range.split(separator: "-").first.flatMap { Int64($0) }
    }

    // MARK: Requests

    /// Sends one request to `endpoint`, answering a 401 challenge once. Returns the
    /// transfer for any other status; a second 401 is UNAUTHENTICATED.
    private func open(_ endpoint: RegistryEndpoint, path: String, headers: HTTPHeaders, repository: String,
                      timeout: Duration?) async throws(AttemptFailure) -> HTTPTransfer {
        var authorization = try await authenticator.authorization(endpoint: endpoint, repository: repository)
        var answered = false
        while true {
            var request = HTTPRequest(.get, url: endpoint.url + path, headers: headers, tls: endpoint.tls, timeout: timeout)
            if let authorization { request.headers.set("Authorization", authorization) }
            let transfer: HTTPTransfer
            do throws(FascoError) {
                transfer = try await http.start(request)
            } catch {
                throw .transport(error, endpoint: endpoint)
            }
            guard transfer.status == 401 else { return transfer }
            let message = await Self.errorMessage(of: transfer)
            if answered { throw AttemptFailure(authenticator.refused(repository: repository, registryMessage: message)) }
            authorization = try await authenticator.respond(to: transfer.headers, endpoint: endpoint, repository: repository,
                                                            rejected: authorization, registryMessage: message)
            answered = true
        }
    }

    /// The failure an unexpected status stands for.
    private func failure(of transfer: HTTPTransfer, endpoint: RegistryEndpoint, repository: String, notFound: String) async -> AttemptFailure {
        let status = transfer.status
        let says = RegistryAuthenticator.says(await Self.errorMessage(of: transfer))
        switch status {
        case 403:
            return AttemptFailure(FascoError(.permissionDenied, "registry \(host) denied access to \(repository) (HTTP 403)" + says))
        case 404:
            return AttemptFailure(.notFound(notFound + says))
        case 429, 500...599:
            return AttemptFailure(FascoError(.unavailable, "\(endpoint.url) answered HTTP \(status) for \(repository)" + says),
                                  retryable: true, retryAfter: Self.retryAfter(transfer.headers))
        case 400:
            return AttemptFailure(.invalidArgument("\(endpoint.url) rejected the request for \(repository) (HTTP 400)" + says))
        default:
            return AttemptFailure(.failedPrecondition("\(endpoint.url) answered HTTP \(status) for \(repository)" + says))
        }
    }

    /// The registry's error message from a (small) error body; nil when the body cannot be
    /// read (a diagnostic: the status already says what failed).
    static func errorMessage(of transfer: HTTPTransfer) async -> String? {
        guard let body = try? await transfer.collect(maxBytes: 64 << 10) else { return nil }
        return RegistryErrorBody.message(body)
    }

    /// `Retry-After` in seconds (the HTTP-date form is ignored).
    static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        guard let text = headers["Retry-After"], let seconds = Int(text.httpTrimmed), seconds >= 0 else { return nil }
        return .seconds(min(seconds, 3600))
    }

    // MARK: Endpoints and retries

    /// Runs `attempt` against each endpoint in turn until one succeeds. Mirror failures
    /// fall through; the upstream's failure (after retries) is the answer.
    nonisolated(nonsending)
    private func onEndpoints<T>(_ attempt: (RegistryEndpoint) async throws(AttemptFailure) -> T) async throws(FascoError) -> T {
        var mirrorFailures: [String] = []
        for endpoint in endpoints {
            do throws(AttemptFailure) {
                return try await withRetries(endpoint) { () async throws(AttemptFailure) -> T in try await attempt(endpoint) }
            } catch {
                if error.isFinal || !endpoint.isMirror {
                    var failure = error.error
                    if !mirrorFailures.isEmpty && !error.isFinal {
                        failure.message += " (mirrors tried first: \(mirrorFailures.joined(separator: "; ")))"
                    }
                    throw failure
                }
                mirrorFailures.append("\(endpoint.url): \(error.error.message.prefix(300))")
            }
        }
        // Not reached: the last endpoint is always an upstream.
        throw FascoError(.unavailable, "no endpoint of registry \(host) answered: \(mirrorFailures.joined(separator: "; "))")
    }

    nonisolated(nonsending)
    private func withRetries<T>(_ endpoint: RegistryEndpoint, _ attempt: () async throws(AttemptFailure) -> T) async throws(AttemptFailure) -> T {
        let attempts = endpoint.isMirror ? 1 : max(1, retryPolicy.maxAttempts)
        var number = 1
        while true {
            do throws(AttemptFailure) {
                return try await attempt()
            } catch {
                guard error.retryable, !error.isFinal, number < attempts else {
                    if error.retryable && attempts > 1 { throw AttemptFailure(Self.afterAttempts(error.error, attempts)) }
                    throw error
                }
                let requested = min(error.retryAfter ?? .zero, retryPolicy.maxRetryAfter)
                let delay = max(retryPolicy.backoff(afterAttempt: number), requested)
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    throw AttemptFailure(.transferCancelled("waiting to retry \(host)"), isFinal: true)
                }
                number += 1
            }
        }
    }

    private static func afterAttempts(_ error: FascoError, _ attempts: Int) -> FascoError {
        var error = error
        error.code = .unavailable
        error.message += " (after \(attempts) attempts)"
        return error
    }

    static func validate(repository: String) throws(FascoError) {
        let components = repository.split(separator: "/", omittingEmptySubsequences: false)
        guard !repository.isEmpty, repository.utf8.count <= 255,
              components.allSatisfy({ ImageReference.isValidPathComponent(String($0)) }) else {
            throw .invalidArgument("\"\(repository.prefix(300))\" is not a valid repository name")
        }
    }
}

extension PlatformMatcher {
    /// The manifest of the index in `bytes` for `platform`; NOT_FOUND lists the platforms the index has.
    public static func select(fromIndex bytes: [UInt8], for platform: Platform = .host) throws(FascoError) -> Descriptor {
        let index: Index
        do {
            index = try JSONDecoder().decode(Index.self, from: Data(bytes))
        } catch {
            throw FascoError(.failedPrecondition, "the image index is not valid: \(error)")
        }
        return try select(from: index, for: platform)
    }
}
