import FascoCore
import FoundationEssentials
import OCISpec

/// A layer encrypted as containers/ocicrypt encrypts it: the blob is the plain (compressed) layer
/// under AES-256-CTR, the public options annotation carries the HMAC-SHA256 of the ciphertext, and
/// one or more key-wrapper annotations carry the private options (the symmetric key, the nonce and
/// the plain blob's digest), each wrapped for one kind of key holder.
public struct EncryptedLayer: Sendable, Equatable {
    public static let mediaTypeSuffix = "+encrypted"
    /// ocicrypt's public options: `{"cipher", "hmac", "cipheroptions"}`, base64.
    public static let publicOptionsAnnotation = "org.opencontainers.image.enc.pubopts"
    /// CoCo's attestation-agent key provider: comma-separated base64 of annotation packets.
    public static let attestationAgentAnnotation = "org.opencontainers.image.enc.keys.provider.attestation-agent"
    /// ocicrypt's JWE wrapper: comma-separated base64 of JWE JSON serializations.
    public static let jweAnnotation = "org.opencontainers.image.enc.keys.jwe"
    static let keysAnnotationPrefix = "org.opencontainers.image.enc.keys."
    public static let cipher = "AES_256_CTR_HMAC_SHA256"

    /// One wrapped copy of the private options.
    public enum Wrapped: Sendable, Equatable {
        /// CoCo's annotation packet: the key-encryption key is the key-broker resource `kid`.
        case attestationAgent(AnnotationPacket)
        /// A JWE (JSON serialization) for a node-local private key.
        case jwe([UInt8])
    }

    /// CoCo's `AnnotationPacket` (guest-components): `wrapped_data` is AES-256-GCM ciphertext
    /// followed by its 16-byte tag, under the key at `kid` with the 12-byte `iv`, no AAD.
    public struct AnnotationPacket: Sendable, Equatable, Decodable {
        public var kid: String
        public var wrapped_data: String
        public var iv: String
        public var wrap_type: String?
        public var provider: String?
    }

    /// The digest of the encrypted blob (what the manifest names).
    public var digest: Digest
    /// How the plain blob is compressed.
    public var compression: LayerCompression
    /// HMAC-SHA256 of the ciphertext, keyed with the symmetric key.
    public var hmac: [UInt8]
    /// The wrapped private options, in the order the annotations list them.
    public var wrapped: [Wrapped]

    /// Whether `mediaType` is an encrypted layer type (`...tar+encrypted`, `+gzip+encrypted`, `+zstd+encrypted`).
    public static func isEncrypted(_ mediaType: String) -> Bool {
        mediaType.hasSuffix(mediaTypeSuffix)
    }

    /// How many of `layers`, from the bottom, lie below the first encrypted one (all of a plain
    /// image's): those a pull unpacks into the shared snapshots.
    static func sharedLayerCount(of layers: [Descriptor]) -> Int {
        layers.firstIndex { isEncrypted($0.mediaType) } ?? layers.count
    }

    /// The encrypted layer `descriptor` describes; FAILED_PRECONDITION naming the layer when its
    /// media type, cipher or annotations are not ones Fasco can decrypt.
    public init(_ descriptor: Descriptor) throws(FascoError) {
        let name = "layer \(descriptor.digest)"
        guard Self.isEncrypted(descriptor.mediaType),
              let compression = MediaType.layerCompression(String(descriptor.mediaType.dropLast(Self.mediaTypeSuffix.count))) else {
            throw .failedPrecondition("\(name) has media type \(descriptor.mediaType), not an encrypted layer type Fasco decrypts")
        }
        digest = try Digest(parsing: descriptor.digest)
        self.compression = compression
        let annotations = descriptor.annotations ?? [:]
        guard let publicText = annotations[Self.publicOptionsAnnotation] else {
            throw .failedPrecondition("\(name) is encrypted but has no \(Self.publicOptionsAnnotation) annotation")
        }
        struct PublicOptions: Decodable {
            var cipher: String
            var hmac: String
        }
        let options: PublicOptions = try Self.decodeBase64JSON(publicText, what: "\(name)'s \(Self.publicOptionsAnnotation)")
        guard options.cipher == Self.cipher else {
            throw .failedPrecondition("\(name) is encrypted with \(options.cipher); Fasco decrypts \(Self.cipher)")
        }
        guard let hmac = Data(base64Encoded: options.hmac), hmac.count == 32 else {
            throw .failedPrecondition("\(name)'s \(Self.publicOptionsAnnotation) has no 32-byte base64 hmac")
        }
        self.hmac = Array(hmac)
        var wrapped: [Wrapped] = []
        for entry in Self.entries(annotations[Self.attestationAgentAnnotation]) {
            let packet: AnnotationPacket = try Self.decodeBase64JSON(entry, what: "\(name)'s \(Self.attestationAgentAnnotation)")
            wrapped.append(.attestationAgent(packet))
        }
        for entry in Self.entries(annotations[Self.jweAnnotation]) {
            guard let bytes = Data(base64Encoded: entry) else {
                throw .failedPrecondition("\(name)'s \(Self.jweAnnotation) is not base64")
            }
            wrapped.append(.jwe(Array(bytes)))
        }
        guard !wrapped.isEmpty else {
            let others = annotations.keys.filter { $0.hasPrefix(Self.keysAnnotationPrefix) }.sorted()
            throw .failedPrecondition(
                "\(name) is encrypted for \(others.isEmpty ? "no key holder" : others.joined(separator: ", ")); Fasco unwraps "
                    + "\(Self.attestationAgentAnnotation) (key broker) and \(Self.jweAnnotation) (node keys)")
        }
        self.wrapped = wrapped
    }

    static func entries(_ value: String?) -> [String] {
        (value ?? "").split(separator: ",").map { String($0.filter { !$0.isWhitespace }) }.filter { !$0.isEmpty }
    }

    static func decodeBase64JSON<T: Decodable>(_ text: String, what: String) throws(FascoError) -> T {
        guard let bytes = Data(base64Encoded: String(text.filter { !$0.isWhitespace })) else {
            throw .failedPrecondition("\(what) is not base64")
        }
        do {
            return try JSONDecoder().decode(T.self, from: bytes)
        } catch {
            throw .failedPrecondition("\(what) is not the JSON ocicrypt writes: \(error)")
        }
    }
}

/// ocicrypt's private layer options, the plaintext every wrapper wraps.
public struct PrivateLayerOptions: Sendable, Equatable {
    /// The 32-byte AES-256 key.
    public var symmetricKey: [UInt8]
    /// The 16-byte initial counter block.
    public var nonce: [UInt8]
    /// The digest of the plain (compressed) blob.
    public var digest: Digest

    /// Parses the unwrapped JSON `{"symkey", "digest", "cipheroptions": {"nonce"}}` (byte fields base64).
    public init(json: [UInt8], layer: Digest) throws(FascoError) {
        struct Raw: Decodable {
            struct CipherOptions: Decodable { var nonce: String? }
            var symkey: String
            var digest: String
            var cipheroptions: CipherOptions?
        }
        let raw: Raw
        do { raw = try JSONDecoder().decode(Raw.self, from: Data(json)) } catch {
            throw .failedPrecondition("the unwrapped key of layer \(layer) is not ocicrypt's private options: \(error)")
        }
        guard let key = Data(base64Encoded: raw.symkey), key.count == 32 else {
            throw .failedPrecondition("the unwrapped key of layer \(layer) has no 32-byte symkey")
        }
        guard let nonceText = raw.cipheroptions?.nonce, let nonce = Data(base64Encoded: nonceText), nonce.count == 16 else {
            throw .failedPrecondition("the unwrapped key of layer \(layer) has no 16-byte cipheroptions.nonce")
        }
        symmetricKey = Array(key)
        self.nonce = Array(nonce)
        digest = try Digest(parsing: raw.digest)
    }
}

extension ImageRecord {
    /// The image's encrypted layers with their positions (bottom first); empty for a plain image.
    public var encryptedLayers: [(position: Int, descriptor: Descriptor)] {
        layers.enumerated().filter { EncryptedLayer.isEncrypted($0.element.mediaType) }.map { ($0.offset, $0.element) }
    }

    public var isEncrypted: Bool { layers.contains { EncryptedLayer.isEncrypted($0.mediaType) } }

    /// How many layers, from the bottom, are unpacked into the shared snapshots: those below the
    /// first encrypted layer (every layer of a plain image). The rest are a container's own.
    public var sharedLayerCount: Int { EncryptedLayer.sharedLayerCount(of: layers) }

}
