import FascoCore

/// Where a pull reads manifests and blobs from: a registry (with its mirrors),
/// or a local OCI layout for `fasco image import`.
public protocol ImageSource: Sendable {
    /// The manifest or index `reference` (a tag or a digest) names in `repository`, with its
    /// media type and digest (verified against `reference` when that is a digest).
    func manifest(repository: String, reference: String) async throws(FascoError) -> FetchedManifest
    /// Streams blob `digest` into `writer`, continuing from `writer.written` when the source can.
    func blob(repository: String, digest: Digest, size: Int64, into writer: BlobWriter) async throws(FascoError)
    /// The whole of a small blob `digest` (at most `size` bytes, verified), in memory: signature payloads.
    func smallBlob(repository: String, digest: Digest, size: Int64) async throws(FascoError) -> [UInt8]
}

extension ImageSource {
    public func smallBlob(repository: String, digest: Digest, size: Int64) async throws(FascoError) -> [UInt8] {
        throw .unimplemented("this image source does not serve signature payloads")
    }
}

public struct FetchedManifest: Sendable {
    public var bytes: [UInt8]
    public var mediaType: String
    public var digest: Digest

    public init(bytes: [UInt8], mediaType: String, digest: Digest) {
        self.bytes = bytes
        self.mediaType = mediaType
        self.digest = digest
    }
}

/// CRI AuthConfig, as the registry client needs it.
public struct RegistryCredentials: Sendable, Equatable {
    public var username: String
    public var password: String
    /// base64 of `username:password`.
    public var auth: String
    public var identityToken: String
    public var registryToken: String

    public init(username: String = "", password: String = "", auth: String = "", identityToken: String = "", registryToken: String = "") {
        self.username = username
        self.password = password
        self.auth = auth
        self.identityToken = identityToken
        self.registryToken = registryToken
    }

    public var isEmpty: Bool { self == RegistryCredentials() }
}
