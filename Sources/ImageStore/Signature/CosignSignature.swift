import Crypto
import FascoCore
import FoundationEssentials

/// One cosign signature of an image, as cosign stores it in the registry: a layer of the
/// signature image `sha256-<hex of the signed manifest digest>.sig` in the image's own
/// repository, whose blob is the simple-signing payload and whose descriptor annotation
/// `dev.cosignproject.cosign/signature` is the base64 ECDSA signature (ASN.1 DER) of it.
///
/// Kept in the image record after a pull (the evidence), so that CreateContainer can
/// verify it again, offline, against the policy in force when the container is created.
public struct CosignSignature: Codable, Sendable, Equatable {
    /// The repository the signature was found in (`127.0.0.1:5000/fasco/signed`).
    public var repository: String
    /// The manifest digest whose `.sig` tag held it.
    public var manifestDigest: Digest
    /// The payload blob, base64.
    public var payload: String
    /// The annotation's value: base64 of the DER ECDSA signature over the payload.
    public var signature: String

    public static let signatureTagSuffix = ".sig"
    public static let payloadMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
    public static let signatureAnnotation = "dev.cosignproject.cosign/signature"
    /// The payload's `critical.type`.
    public static let payloadType = "cosign container image signature"
    /// Payloads larger than this are not signatures (cosign's are a few hundred bytes).
    public static let maxPayloadSize: Int64 = 64 << 10

    public init(repository: String, manifestDigest: Digest, payload: String, signature: String) {
        self.repository = repository
        self.manifestDigest = manifestDigest
        self.payload = payload
        self.signature = signature
    }

    /// The tag cosign stores the signatures of `digest` under: `sha256-<hex>.sig`.
    public static func tag(for digest: Digest) -> String {
        "\(digest.algorithm.rawValue)-\(digest.encoded)\(signatureTagSuffix)"
    }

    /// The simple-signing payload (containers-signature(5), cosign's `payload.SimpleContainerImage`).
    struct Payload: Decodable {
        struct Critical: Decodable {
            struct Identity: Decodable { var dockerReference: String
                enum CodingKeys: String, CodingKey { case dockerReference = "docker-reference" } }
            struct Image: Decodable { var dockerManifestDigest: String
                enum CodingKeys: String, CodingKey { case dockerManifestDigest = "docker-manifest-digest" } }
            var identity: Identity
            var image: Image
            var type: String
        }
        var critical: Critical
    }

    /// Why this signature does not admit the image `image` at `digest` under `rule`,
    /// or nil when it does: the signature verifies with one of `rule.keys` over the
    /// payload bytes, the payload names `digest`, and its identity satisfies `rule.signedIdentity`.
    /// Each part that does not parse is a rejection that says which (the parse error adds nothing).
    func rejection(image: SignedReference, digest: Digest, rule: PolicyRequirement.SigstoreSigned) -> String? {
        guard let payloadBytes = Data(base64Encoded: payload) else { return "its payload is not base64" }
        guard let der = Data(base64Encoded: String(signature.filter { !$0.isWhitespace })),
              let ecdsa = try? P256.Signing.ECDSASignature(derRepresentation: der) else {
            return "its \(Self.signatureAnnotation) annotation is not a base64 DER ECDSA signature"
        }
        guard rule.verifies(ecdsa, over: payloadBytes) else {
            return "it is not signed by the policy's key (\(rule.keySource))"
        }
        // Only a payload whose signature verified is read.
        let parsed: Payload
        do { parsed = try JSONDecoder().decode(Payload.self, from: payloadBytes) } catch {
            return "its payload is not a simple-signing document: \(error)"
        }
        guard parsed.critical.type == Self.payloadType else {
            return "its payload's critical.type is \"\(parsed.critical.type.prefix(100))\", not \"\(Self.payloadType)\""
        }
        guard let signedDigest = try? Digest(parsing: parsed.critical.image.dockerManifestDigest), signedDigest == digest else {
            return "its payload signs manifest \(parsed.critical.image.dockerManifestDigest.prefix(80)), not \(digest)"
        }
        guard let signed = try? SignedReference(parsing: parsed.critical.identity.dockerReference) else {
            return "its payload's docker-reference \"\(parsed.critical.identity.dockerReference.prefix(200))\" is not a reference"
        }
        guard rule.signedIdentity.accepts(signed: signed, image: image) else {
            return "its payload names \(signed), which signedIdentity \(rule.signedIdentity) does not accept for \(image)"
        }
        return nil
    }
}
