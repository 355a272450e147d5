import Crypto
import FascoCore

/// The Arm CCA attestation token (RMM spec A7.2.3): a realm token signed with the realm's
/// attestation key (RAK) and a platform token signed with the platform's key, whose challenge
/// binds the RAK; both COSE_Sign1 ES384. On the software backend the platform is Fasco's own
/// software RMM and says so (`PlatformIdentity.software`).
public enum CCAToken {
    /// The two collection shapes verifiers read.
    public enum Format: String, Sendable, CaseIterable {
        /// The CMW collection of the current RMM spec and TF-RMM: tag 907 wrapping
        /// {44234: [263, platform], 44241: [263, realm]}.
        case cmw
        /// Tag 399 wrapping {44234: platform, 44241: realm}: what rust-ccatoken (and so
        /// Trustee's CCA verifier) reads today.
        case legacy
    }

    public static let cmwCollectionTag: UInt64 = 907
    public static let legacyCollectionTag: UInt64 = 399
    public static let platformKey: Int64 = 44234
    public static let realmKey: Int64 = 44241
    /// The CoAP content format of a CMW entry: application/eat+cwt with the COSE_Sign1 tag.
    public static let cmwContentFormat: Int64 = 263
    public static let realmProfile = "tag:arm.com,2023:realm#1.0.0"
    public static let platformProfile = "tag:arm.com,2023:cca_platform#1.0.0"
    public static let challengeSize = 64

    /// Realm claim keys.
    public enum RealmClaim {
        public static let challenge: Int64 = 10
        public static let profile: Int64 = 265
        public static let personalizationValue: Int64 = 44235
        public static let hashAlgorithm: Int64 = 44236
        public static let publicKey: Int64 = 44237
        public static let initialMeasurement: Int64 = 44238
        public static let extensibleMeasurements: Int64 = 44239
        public static let publicKeyHashAlgorithm: Int64 = 44240
    }

    /// Platform claim keys.
    public enum PlatformClaim {
        public static let profile: Int64 = 265
        public static let challenge: Int64 = 10
        public static let implementationID: Int64 = 2396
        public static let instanceID: Int64 = 256
        public static let config: Int64 = 2401
        public static let lifecycle: Int64 = 2395
        public static let softwareComponents: Int64 = 2399
        public static let verificationService: Int64 = 2400
        public static let hashAlgorithm: Int64 = 2402
    }

    /// A challenge as the realm token carries it: at most 64 bytes, zero-padded to 64.
    public static func paddedChallenge(_ challenge: [UInt8]) throws(FascoError) -> [UInt8] {
        guard challenge.count <= challengeSize else {
            throw .invalidArgument("a challenge has at most 64 bytes, not \(challenge.count)")
        }
        return challenge + [UInt8](repeating: 0, count: challengeSize - challenge.count)
    }

    /// The realm's claim set.
    public static func realmClaims(_ measurement: RealmMeasurement, rak: P384.Signing.PublicKey,
                                   challenge: [UInt8]) throws(FascoError) -> CBOR {
        CBOR.intMap([
            (RealmClaim.challenge, .bytes(try paddedChallenge(challenge))),
            (RealmClaim.profile, .text(realmProfile)),
            (RealmClaim.personalizationValue, .bytes(measurement.personalizationValue)),
            (RealmClaim.hashAlgorithm, .text(measurement.algorithm.rawValue)),
            (RealmClaim.publicKey, .bytes(rak.coseKey)),
            (RealmClaim.initialMeasurement, .bytes(measurement.rim)),
            (RealmClaim.extensibleMeasurements, .array(measurement.rems.map { .bytes($0) })),
            (RealmClaim.publicKeyHashAlgorithm, .text(MeasurementAlgorithm.sha256.rawValue)),
        ])
    }

    /// A token for the realm measured by `measurement`, whose attestation key is `rak`.
    public static func make(measurement: RealmMeasurement, rak: P384.Signing.PrivateKey, challenge: [UInt8],
                            platform: PlatformIdentity, format: Format = .cmw) throws(FascoError) -> [UInt8] {
        let realm = try COSESign1.sign(payload: try realmClaims(measurement, rak: rak.publicKey, challenge: challenge).encoded, key: rak)
        let binding = MeasurementAlgorithm.sha256.hash(rak.publicKey.coseKey)
        let platformToken = try COSESign1.sign(payload: platform.claims(challenge: binding).encoded, key: try platform.signingKey())
        switch format {
        case .cmw:
            return CBOR.tagged(cmwCollectionTag, .intMap([
                (platformKey, .array([.int(cmwContentFormat), .bytes(platformToken)])),
                (realmKey, .array([.int(cmwContentFormat), .bytes(realm)])),
            ])).encoded
        case .legacy:
            return CBOR.tagged(legacyCollectionTag, .intMap([(platformKey, .bytes(platformToken)), (realmKey, .bytes(realm))])).encoded
        }
    }
}
