import Crypto
import FascoCore

/// Who signs platform tokens. On the software backend that is the node's own platform key,
/// with an identity that says it is software: a verifier that trusts only hardware keys
/// rejects it, and an operator who wants to trust it adds its key knowingly.
public struct PlatformIdentity: Sendable {
    /// A measured component of the platform (the PSA/CCA software-components claim).
    public struct SoftwareComponent: Sendable, Equatable {
        public var type: String
        public var measurement: [UInt8]
        public var version: String
        public var signerID: [UInt8]
        /// The measurement's hash algorithm ("sha-256").
        public var description: String

        public init(type: String, measurement: [UInt8], version: String, signerID: [UInt8], description: String = "sha-256") {
            self.type = type
            self.measurement = measurement
            self.version = version
            self.signerID = signerID
            self.description = description
        }
    }

    /// The platform's private key (its raw scalar: Crypto's key types are not Sendable).
    let privateKey: [UInt8]
    /// The public key as a JWK.
    public let publicJWK: [String: String]

    func signingKey() throws(FascoError) -> P384.Signing.PrivateKey {
        do { return try P384.Signing.PrivateKey(rawRepresentation: privateKey) } catch {
            throw .internal("the platform key does not load", cause: error)
        }
    }
    /// 32 bytes.
    public let implementationID: [UInt8]
    /// 33 bytes, 0x01 then SHA-256 of the platform public key (as for an EAT UEID of type RAND).
    public let instanceID: [UInt8]
    public let config: [UInt8]
    public let lifecycle: UInt64
    public let softwareComponents: [SoftwareComponent]
    public let verificationService: String

    /// The implementation ID of Fasco's software RMM: the 32 ASCII bytes
    /// "fasco software rmm, not hardware".
    public static let softwareImplementationID = Array("fasco software rmm, not hardware".utf8)
    /// The config claim of the software backend: what the platform is, in words.
    public static let softwareConfig = Array(
        "fasco software backend: realms are Linux namespaces and cgroups; memory is not confidential from the node; no hardware root of trust".utf8)
    /// PSA security lifecycle "unknown" (0x0000): nothing vouches for the platform's state.
    public static let softwareLifecycle: UInt64 = 0x0000
    public static let softwareVerificationService = "local:fasco attest --platform-key"

    public init(key: P384.Signing.PrivateKey, implementationID: [UInt8], config: [UInt8], lifecycle: UInt64,
                softwareComponents: [SoftwareComponent], verificationService: String) {
        self.privateKey = Array(key.rawRepresentation)
        self.publicJWK = key.publicKey.jwk
        self.implementationID = implementationID
        self.instanceID = [0x01] + MeasurementAlgorithm.sha256.hash(Array(key.publicKey.rawRepresentation))
        self.config = config
        self.lifecycle = lifecycle
        self.softwareComponents = softwareComponents
        self.verificationService = verificationService
    }

    /// The software platform: Fasco's implementation ID, config and lifecycle, with `components` measured.
    public static func software(key: P384.Signing.PrivateKey, components: [SoftwareComponent]) -> PlatformIdentity {
        PlatformIdentity(key: key, implementationID: softwareImplementationID, config: softwareConfig,
                         lifecycle: softwareLifecycle, softwareComponents: components, verificationService: softwareVerificationService)
    }

    /// The platform claim set with `challenge` (the hash of the realm's RAK).
    func claims(challenge: [UInt8]) -> CBOR {
        typealias Claim = CCAToken.PlatformClaim
        return CBOR.intMap([
            (Claim.profile, .text(CCAToken.platformProfile)),
            (Claim.challenge, .bytes(challenge)),
            (Claim.implementationID, .bytes(implementationID)),
            (Claim.instanceID, .bytes(instanceID)),
            (Claim.config, .bytes(config)),
            (Claim.lifecycle, .unsigned(lifecycle)),
            (Claim.softwareComponents, .array(softwareComponents.map { component in
                CBOR.intMap([
                    (1, .text(component.type)), (2, .bytes(component.measurement)), (4, .text(component.version)),
                    (5, .bytes(component.signerID)), (6, .text(component.description)),
                ])
            })),
            (Claim.verificationService, .text(verificationService)),
            (Claim.hashAlgorithm, .text(MeasurementAlgorithm.sha256.rawValue)),
        ])
    }

    /// An entry of Trustee's CCA trust-anchor store: the public key as a JWK with the IDs it is found by.
    public struct TrustAnchor: Sendable, Codable, Equatable {
        public var pkey: [String: String]
        public var implementationID: String
        public var instanceID: String

        enum CodingKeys: String, CodingKey {
            case pkey
            case implementationID = "implementation-id"
            case instanceID = "instance-id"
        }
    }

    public var trustAnchor: TrustAnchor {
        TrustAnchor(pkey: publicJWK, implementationID: Hex.encode(implementationID), instanceID: Hex.encode(instanceID))
    }
}
