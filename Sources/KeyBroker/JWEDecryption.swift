import Crypto
import FascoCore
import FoundationEssentials
import _CryptoExtras

/// Decrypts the flattened JWE (RFC 7516 section 7.2.2) in which a key broker releases a resource:
/// `enc` A256GCM, `alg` ECDH-ES+A256KW with the ephemeral key `epk` in the protected header
/// (RFC 7518 section 4.6: ECDH on P-256, the Concat KDF with SHA-256, then AES-256 key unwrap
/// of `encrypted_key`). The AES-GCM additional data is the protected header as sent (ASCII),
/// followed by `.` and `aad` when the JWE has one. With an RSA TEE key, `alg` RSA-OAEP-256: the
/// content key is `encrypted_key` decrypted with RSA-OAEP (SHA-256, MGF1 SHA-256).
public enum JWEDecryption {
    struct Flattened: Decodable {
        var protected: String
        var encrypted_key: String?
        var iv: String
        var ciphertext: String
        var tag: String
        var aad: String?
    }

    struct Header: Decodable {
        struct Key: Decodable {
            var kty: String
            var crv: String?
            var x: String?
            var y: String?
        }
        var alg: String
        var enc: String
        var epk: Key?
        var apu: String?
        var apv: String?
    }

    /// The plaintext of `jwe` (its JSON text) for the holder of the TEE key `key` (EC or RSA).
    public static func decrypt(_ jwe: [UInt8], with key: TEEKeyPair) throws(FascoError) -> [UInt8] {
        switch key.kind {
        case .ec: return try decrypt(jwe, with: key.privateKey)
        case .rsa:
            guard let rsa = key.rsaKey else { throw .internal("the RSA TEE key cannot be read") }
            let (flattened, header) = try parse(jwe)
            guard header.alg == "RSA-OAEP-256" else {
                throw .invalidArgument("JWE alg \(header.alg.prefix(40).debugDescription) is not supported for an RSA TEE key (only RSA-OAEP-256)")
            }
            guard let wrapped = flattened.encrypted_key.flatMap(Base64URL.decode), !wrapped.isEmpty else {
                throw .invalidArgument("the JWE has no encrypted_key")
            }
            let cek: [UInt8]
            do { cek = Array(try rsa.decrypt(wrapped, padding: .PKCS1_OAEP_SHA256)) } catch {
                throw .invalidArgument("the JWE's content key does not decrypt with this TEE key (wrong key or tampered encrypted_key)")
            }
            guard cek.count == 32 else { throw .invalidArgument("the JWE's content key is not 256 bits") }
            return try contentDecrypt(flattened, key: SymmetricKey(data: cek))
        }
    }

    static func parse(_ jwe: [UInt8]) throws(FascoError) -> (Flattened, Header) {
        let flattened: Flattened
        do { flattened = try JSONDecoder().decode(Flattened.self, from: Data(jwe)) } catch {
            throw .invalidArgument("the response is not a flattened JWE (protected, encrypted_key, iv, ciphertext, tag)")
        }
        guard let headerBytes = Base64URL.decode(flattened.protected) else { throw .invalidArgument("the JWE's protected header is not base64url") }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(headerBytes)) } catch {
            throw .invalidArgument("the JWE's protected header is not JSON with alg and enc")
        }
        guard header.enc == "A256GCM" else { throw .invalidArgument("JWE enc \(header.enc.prefix(40).debugDescription) is not supported (only A256GCM)") }
        return (flattened, header)
    }

    /// The plaintext of `jwe` (its JSON text) for the holder of the EC key `key`; any malformed
    /// part, unsupported algorithm or failed authentication throws (INVALID_ARGUMENT naming it).
    public static func decrypt(_ jwe: [UInt8], with key: P256.KeyAgreement.PrivateKey) throws(FascoError) -> [UInt8] {
        let (flattened, header) = try parse(jwe)
        guard header.alg == "ECDH-ES+A256KW" else {
            throw .invalidArgument("JWE alg \(header.alg.prefix(40).debugDescription) is not supported for an EC TEE key (only ECDH-ES+A256KW)")
        }
        guard let epk = header.epk, epk.kty == "EC", epk.crv == "P-256", let x = epk.x.flatMap(Base64URL.decode), let y = epk.y.flatMap(Base64URL.decode),
              x.count == 32, y.count == 32 else {
            throw .invalidArgument("the JWE's epk is not an EC P-256 public key")
        }
        let ephemeral: P256.KeyAgreement.PublicKey
        do { ephemeral = try P256.KeyAgreement.PublicKey(x963Representation: [0x04] + x + y) } catch {
            throw .invalidArgument("the JWE's epk is not a point on P-256")
        }
        let shared: SharedSecret
        do { shared = try key.sharedSecretFromKeyAgreement(with: ephemeral) } catch {
            throw .invalidArgument("ECDH with the JWE's epk failed")
        }
        let z = shared.withUnsafeBytes { Array($0) }
        let kek = concatKDF(z: z, algorithm: header.alg, partyU: header.apu.flatMap(Base64URL.decode) ?? [],
                            partyV: header.apv.flatMap(Base64URL.decode) ?? [], keyBits: 256)
        guard let wrapped = flattened.encrypted_key.flatMap(Base64URL.decode), !wrapped.isEmpty else {
            throw .invalidArgument("the JWE has no encrypted_key")
        }
        let cek: SymmetricKey
        do { cek = try AES.KeyWrap.unwrap(wrapped, using: SymmetricKey(data: kek)) } catch {
            throw .invalidArgument("the JWE's content key does not unwrap with this TEE key (wrong key or tampered encrypted_key)")
        }
        guard cek.bitCount == 256 else { throw .invalidArgument("the JWE's content key is not 256 bits") }
        return try contentDecrypt(flattened, key: cek)
    }

    static func contentDecrypt(_ jwe: Flattened, key: SymmetricKey) throws(FascoError) -> [UInt8] {
        guard let iv = Base64URL.decode(jwe.iv), iv.count == 12 else { throw .invalidArgument("the JWE's iv is not 12 bytes of base64url") }
        guard let ciphertext = Base64URL.decode(jwe.ciphertext) else { throw .invalidArgument("the JWE's ciphertext is not base64url") }
        guard let tag = Base64URL.decode(jwe.tag), tag.count == 16 else { throw .invalidArgument("the JWE's tag is not 16 bytes of base64url") }
        var aad = Array(jwe.protected.utf8)
        if let extra = jwe.aad { aad += Array(".".utf8) + Array(extra.utf8) }
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: iv), ciphertext: ciphertext, tag: tag)
            return Array(try AES.GCM.open(box, using: key, authenticating: aad))
        } catch {
            throw .invalidArgument("the JWE does not authenticate (tampered ciphertext, tag, iv or header)")
        }
    }

    /// RFC 7518 section 4.6.2 (NIST SP 800-56A Concat KDF with SHA-256): AlgorithmID, PartyUInfo
    /// and PartyVInfo each as a 32-bit big-endian length and the bytes, SuppPubInfo the key length
    /// in bits (32-bit big-endian).
    public static func concatKDF(z: [UInt8], algorithm: String, partyU: [UInt8], partyV: [UInt8], keyBits: Int) -> [UInt8] {
        func lengthPrefixed(_ bytes: [UInt8]) -> [UInt8] { bigEndian(UInt32(bytes.count)) + bytes }
        func bigEndian(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }
        let otherInfo = lengthPrefixed(Array(algorithm.utf8)) + lengthPrefixed(partyU) + lengthPrefixed(partyV) + bigEndian(UInt32(keyBits))
        var output: [UInt8] = []
        var counter: UInt32 = 1
        while output.count * 8 < keyBits {
            output += Array(SHA256.hash(data: bigEndian(counter) + z + otherInfo))
            counter += 1
        }
        return Array(output.prefix(keyBits / 8))
    }
}
