import Crypto
import FascoCore
import _CryptoExtras

/// The TEE key of one key-broker session, made fresh for it and announced to the broker as a
/// JWK (kbs-types' TeePubKey); the broker wraps resources to it. EC P-256 with `alg`
/// ECDH-ES+A256KW is CoCo's default and Fasco's; RSA (2048 bits, RSA-OAEP-256) is the other kind.
public struct TEEKeyPair: Sendable {
    public enum Kind: String, Sendable { case ec, rsa }

    public let kind: Kind
    /// The EC scalar, or the RSA private key's DER (swift-crypto's keys are not Sendable; they
    /// are made again from these bytes, which came from a valid key).
    let material: [UInt8]

    public init(privateKey: P256.KeyAgreement.PrivateKey = P256.KeyAgreement.PrivateKey()) {
        kind = .ec
        material = Array(privateKey.rawRepresentation)
    }

    /// A fresh key of `kind`.
    public static func make(_ kind: Kind) throws(FascoError) -> TEEKeyPair {
        switch kind {
        case .ec: return TEEKeyPair()
        case .rsa:
            do { return TEEKeyPair(rsa: try _RSA.Encryption.PrivateKey(keySize: .bits2048)) } catch {
                throw .internal("cannot make an RSA TEE key", cause: error)
            }
        }
    }

    init(rsa: _RSA.Encryption.PrivateKey) {
        kind = .rsa
        material = Array(rsa.derRepresentation)
    }

    public static let ecAlgorithm = "ECDH-ES+A256KW"
    public static let rsaAlgorithm = "RSA-OAEP-256"

    /// The EC private key (a fresh unrelated one if this is an RSA pair: callers check `kind`).
    public var privateKey: P256.KeyAgreement.PrivateKey {
        (try? P256.KeyAgreement.PrivateKey(rawRepresentation: material)) ?? P256.KeyAgreement.PrivateKey()
    }

    var rsaKey: _RSA.Encryption.PrivateKey? {
        kind == .rsa ? try? _RSA.Encryption.PrivateKey(derRepresentation: material) : nil
    }

    /// `{"alg","crv","kty","x","y"}` for EC, `{"alg","e","kty","n"}` for RSA.
    public var publicJWK: JSONText {
        if kind == .rsa, let key = rsaKey, let primitives = try? key.publicKey.getKeyPrimitives() {
            return .object([
                ("kty", .string("RSA")), ("alg", .string(Self.rsaAlgorithm)),
                ("n", .string(Base64URL.encode(primitives.modulus))), ("e", .string(Base64URL.encode(primitives.publicExponent))),
            ])
        }
        let point = Array(privateKey.publicKey.x963Representation)  // 0x04 || x || y
        return .object([
            ("kty", .string("EC")), ("alg", .string(Self.ecAlgorithm)), ("crv", .string("P-256")),
            ("x", .string(Base64URL.encode(point[1..<33]))), ("y", .string(Base64URL.encode(point[33..<65]))),
        ])
    }

    /// The private key as PEM (PKCS#8), as CoCo's `/aa/token` gives `tee_keypair`.
    public var privateKeyPEM: String {
        if kind == .rsa, let key = rsaKey { return key.pkcs8PEMRepresentation }
        return privateKey.pemRepresentation
    }
}
