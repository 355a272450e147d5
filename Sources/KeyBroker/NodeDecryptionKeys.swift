import Crypto
import FascoCore
import FoundationEssentials
import _CryptoExtras

/// The node's own image decryption keys (fasco.toml `[image] decryption_keys`, PEM private keys),
/// opening ocicrypt's JWE key wrapper as containerd's imgcrypt does with its decryption keys: the
/// JWE JSON serialization (general, with `recipients`, or flattened), `enc` A256GCM, a recipient
/// `alg` ECDH-ES+A256KW for an EC P-256 key, RSA-OAEP or RSA-OAEP-256 for an RSA key.
public struct NodeDecryptionKeys: Sendable {
    enum Key: Sendable {
        /// The P-256 scalar (swift-crypto's keys are not Sendable).
        case ec([UInt8])
        /// The RSA private key's DER.
        case rsa([UInt8])
    }

    let keys: [(path: String, key: Key)]

    public var isEmpty: Bool { keys.isEmpty }

    /// Reads each PEM file: an EC P-256 key (PKCS#8 or SEC 1) or an RSA key (PKCS#8 or PKCS#1).
    /// A file that is missing or holds neither is FAILED_PRECONDITION naming it.
    public init(files: [String]) throws(FascoError) {
        var keys: [(String, Key)] = []
        for path in files {
            guard let bytes = try FileSystem.read(path, limit: 1 << 20) else {
                throw .failedPrecondition("image decryption key \(path) does not exist")
            }
            let pem = String(decoding: bytes, as: UTF8.self)
            if let ec = try? P256.KeyAgreement.PrivateKey(pemRepresentation: pem) {
                keys.append((path, .ec(Array(ec.rawRepresentation))))
            } else if let rsa = try? _RSA.Encryption.PrivateKey(pemRepresentation: pem) {
                keys.append((path, .rsa(Array(rsa.derRepresentation))))
            } else {
                throw .failedPrecondition("image decryption key \(path) is not a PEM private key of EC P-256 or RSA")
            }
        }
        self.keys = keys
    }

    struct Serialized: Decodable {
        struct Recipient: Decodable {
            var header: [String: JSONValue]?
            var encrypted_key: String?
        }
        var protected: String
        var unprotected: [String: JSONValue]?
        var header: [String: JSONValue]?
        var encrypted_key: String?
        var recipients: [Recipient]?
        var iv: String
        var ciphertext: String
        var tag: String
        var aad: String?
    }

    /// The plaintext of `jwe` when one of the keys opens one of its recipients; nil when none
    /// does. A JWE that is not one (or not A256GCM) is FAILED_PRECONDITION.
    public func open(_ jwe: [UInt8]) throws(FascoError) -> [UInt8]? {
        let serialized: Serialized
        do { serialized = try JSONDecoder().decode(Serialized.self, from: Data(jwe)) } catch {
            throw .failedPrecondition("an ocicrypt JWE key wrapper is not a JWE JSON serialization")
        }
        guard let protectedBytes = Base64URL.decode(serialized.protected),
              let protected = try? JSONDecoder().decode([String: JSONValue].self, from: Data(protectedBytes)) else {
            throw .failedPrecondition("an ocicrypt JWE key wrapper's protected header is not base64url JSON")
        }
        let recipients = serialized.recipients ?? [Serialized.Recipient(header: serialized.header, encrypted_key: serialized.encrypted_key)]
        for recipient in recipients {
            var header = protected
            for (name, value) in serialized.unprotected ?? [:] { header[name] = value }
            for (name, value) in recipient.header ?? [:] { header[name] = value }
            guard case .string(let enc)? = header["enc"], enc == "A256GCM" else {
                throw .failedPrecondition("an ocicrypt JWE key wrapper is not A256GCM")
            }
            guard case .string(let alg)? = header["alg"], let wrapped = recipient.encrypted_key.flatMap(Base64URL.decode) else { continue }
            for (_, key) in keys {
                guard let cek = Self.contentKey(alg: alg, header: header, wrapped: wrapped, key: key) else { continue }
                let flattened = JWEDecryption.Flattened(protected: serialized.protected, encrypted_key: nil, iv: serialized.iv,
                                                        ciphertext: serialized.ciphertext, tag: serialized.tag, aad: serialized.aad)
                do throws(FascoError) {
                    return try JWEDecryption.contentDecrypt(flattened, key: cek)
                } catch {
                    throw .failedPrecondition("an ocicrypt JWE key wrapper opened with a node key but does not authenticate (tampered)")
                }
            }
        }
        return nil
    }

    /// The content key `key` recovers from `wrapped` under `alg`; nil when it is not this key's.
    static func contentKey(alg: String, header: [String: JSONValue], wrapped: [UInt8], key: Key) -> SymmetricKey? {
        switch (alg, key) {
        case ("ECDH-ES+A256KW", .ec(let scalar)):
            guard case .object(let epk)? = header["epk"], case .string(let x)? = epk["x"], case .string(let y)? = epk["y"],
                  let xBytes = Base64URL.decode(x), let yBytes = Base64URL.decode(y), xBytes.count == 32, yBytes.count == 32,
                  let ephemeral = try? P256.KeyAgreement.PublicKey(x963Representation: [0x04] + xBytes + yBytes),
                  let privateKey = try? P256.KeyAgreement.PrivateKey(rawRepresentation: scalar),
                  let shared = try? privateKey.sharedSecretFromKeyAgreement(with: ephemeral) else { return nil }
            func party(_ name: String) -> [UInt8] {
                if case .string(let text)? = header[name] { return Base64URL.decode(text) ?? [] }
                return []
            }
            let z = shared.withUnsafeBytes { Array($0) }
            let kek = JWEDecryption.concatKDF(z: z, algorithm: alg, partyU: party("apu"), partyV: party("apv"), keyBits: 256)
            guard let cek = try? AES.KeyWrap.unwrap(wrapped, using: SymmetricKey(data: kek)), cek.bitCount == 256 else { return nil }
            return cek
        case ("RSA-OAEP", .rsa(let der)), ("RSA-OAEP-256", .rsa(let der)):
            guard let rsa = try? _RSA.Encryption.PrivateKey(derRepresentation: der),
                  let cek = try? rsa.decrypt(wrapped, padding: alg == "RSA-OAEP" ? .PKCS1_OAEP : .PKCS1_OAEP_SHA256), cek.count == 32 else {
                return nil
            }
            return SymmetricKey(data: cek)
        default:
            return nil
        }
    }
}
