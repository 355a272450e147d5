import Crypto
import FascoCore
import FoundationEssentials

/// One requirement of containers-policy.json(5): all requirements of the scope that
/// applies to an image must hold for the image to be admitted.
public enum PolicyRequirement: Sendable, CustomStringConvertible {
    /// Admits any image (the other requirements of the scope still apply).
    case insecureAcceptAnything
    /// Refuses every image.
    case reject
    /// A cosign signature by one of `keys` whose payload names the image's digest and an identity `signedIdentity` accepts.
    case sigstoreSigned(SigstoreSigned)

    public struct SigstoreSigned: Sendable {
        /// Where the keys came from, for messages (`keyPath /etc/fasco/cosign.pub`, `keyData`).
        public var keySource: String
        /// The ECDSA P-256 public keys, DER (SubjectPublicKeyInfo): swift-crypto's key type is not Sendable.
        public var keys: [[UInt8]]

        /// Whether one of the keys verifies `signature` over `message` (ECDSA, SHA-256). The keys
        /// were checked when the policy was loaded; one that does not parse verifies nothing.
        func verifies(_ signature: P256.Signing.ECDSASignature, over message: Data) -> Bool {
            keys.contains { der in
                guard let key = try? P256.Signing.PublicKey(derRepresentation: der) else { return false }
                return key.isValidSignature(signature, for: message)
            }
        }
        public var signedIdentity: SignedIdentity
    }

    public var description: String {
        switch self {
        case .insecureAcceptAnything: "insecureAcceptAnything"
        case .reject: "reject"
        case .sigstoreSigned(let signed): "sigstoreSigned (\(signed.keySource), signedIdentity \(signed.signedIdentity))"
        }
    }
}

/// What identity a signature must claim (containers-policy.json(5) `signedIdentity`).
public enum SignedIdentity: Sendable, Equatable, CustomStringConvertible {
    /// The signature's reference equals the image's (tag or digest included).
    case matchExact
    /// A tagged image: the signature names it exactly; a digested one: the same repository. The default.
    case matchRepoDigestOrExact
    /// The signature names the image's repository (cosign signatures hold only a repository).
    case matchRepository
    /// The signature names exactly this reference (tag or digest included).
    case exactReference(String)
    /// The signature names this repository.
    case exactRepository(String)

    public var description: String {
        switch self {
        case .matchExact: "matchExact"
        case .matchRepoDigestOrExact: "matchRepoDigestOrExact"
        case .matchRepository: "matchRepository"
        case .exactReference(let reference): "exactReference \(reference)"
        case .exactRepository(let repository): "exactRepository \(repository)"
        }
    }

    /// Whether a signature claiming `signed` satisfies this rule for the image named `image`.
    /// The rule's own reference was checked when the policy was loaded; one that does not
    /// parse accepts nothing.
    func accepts(signed: SignedReference, image: SignedReference) -> Bool {
        switch self {
        case .matchExact:
            return signed.suffix != nil && signed == image
        case .matchRepoDigestOrExact:
            if image.isDigested { return signed.repository == image.repository }
            return signed.suffix != nil && signed == image
        case .matchRepository:
            return signed.repository == image.repository
        case .exactReference(let text):
            guard let wanted = try? SignedReference(parsing: text) else { return false }
            return signed.suffix != nil && signed == wanted
        case .exactRepository(let text):
            guard let wanted = try? SignedReference(parsing: text) else { return false }
            return signed.repository == wanted.repository
        }
    }
}

/// A Docker reference as a signature names it: normalised like an image name
/// (`busybox` -> `docker.io/library/busybox`) but, unlike `ImageReference`, without
/// adding `:latest` to a bare repository (cosign signs repositories, not tags).
struct SignedReference: Sendable, Equatable, CustomStringConvertible {
    /// `docker.io/library/busybox`
    var repository: String
    /// `:tag`, `@sha256:…`, or nil for a bare repository.
    var suffix: String?

    var isDigested: Bool { suffix?.hasPrefix("@") == true }

    init(parsing text: String) throws(FascoError) {
        let parsed = try ImageReference(parsing: text)
        repository = parsed.repository
        if let digest = parsed.digest {
            suffix = "@\(digest)"
        } else {
            let name = text.split(separator: "/").last ?? ""
            suffix = name.contains(":") ? ":\(parsed.tag ?? ImageReference.defaultTag)" : nil
        }
    }

    init(_ reference: ImageReference) {
        repository = reference.repository
        if let digest = reference.digest { suffix = "@\(digest)" } else { suffix = ":\(reference.tag ?? ImageReference.defaultTag)" }
    }

    var description: String { repository + (suffix ?? "") }
}
