import Crypto

/// The TEE key of one key-broker session: a fresh EC P-256 key pair (CoCo's default), announced
/// to the broker as a JWK with `alg` ECDH-ES+A256KW; the broker wraps resources to it.
public struct TEEKeyPair: Sendable {
    /// The raw scalar (swift-crypto's keys are not Sendable; the key is made again from it).
    let scalar: [UInt8]

    public init(privateKey: P256.KeyAgreement.PrivateKey = P256.KeyAgreement.PrivateKey()) {
        self.scalar = Array(privateKey.rawRepresentation)
    }

    public var privateKey: P256.KeyAgreement.PrivateKey {
        // The scalar came from a valid key, so this never falls back.
        (try? P256.KeyAgreement.PrivateKey(rawRepresentation: scalar)) ?? P256.KeyAgreement.PrivateKey()
    }

    public static let algorithm = "ECDH-ES+A256KW"

    /// The public key as kbs-types' TeePubKey (a JWK): `{"alg","crv","kty","x","y"}`.
    public var publicJWK: JSONText {
        let point = Array(privateKey.publicKey.x963Representation)  // 0x04 || x || y
        return .object([
            ("kty", .string("EC")), ("alg", .string(Self.algorithm)), ("crv", .string("P-256")),
            ("x", .string(Base64URL.encode(point[1..<33]))), ("y", .string(Base64URL.encode(point[33..<65]))),
        ])
    }

    /// The private key as PEM (PKCS#8), as CoCo's `/aa/token` gives `tee_keypair`.
    public var privateKeyPEM: String { privateKey.pemRepresentation }
}
