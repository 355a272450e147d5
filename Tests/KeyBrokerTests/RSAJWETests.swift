import Crypto
import FascoCore
import FoundationEssentials
import KeyBroker
import Testing
import _CryptoExtras

@Suite struct RSAJWETests {
    /// An RSA-OAEP-256 / A256GCM JWE to `jwk`'s key, made here from the JWK's n and e.
    static func makeJWE(_ plaintext: [UInt8], to jwk: JSONText) throws -> [String: String] {
        let n = try #require(Base64URL.decode(jwk["n"]?.stringValue ?? "")), e = try #require(Base64URL.decode(jwk["e"]?.stringValue ?? ""))
        let publicKey = try _RSA.Encryption.PublicKey(n: n, e: e)
        let protected = Base64URL.encode(Array(#"{"alg":"RSA-OAEP-256","enc":"A256GCM"}"#.utf8))
        let cek = SymmetricKey(size: .bits256)
        let encryptedKey = try cek.withUnsafeBytes { try publicKey.encrypt(Array($0), padding: .PKCS1_OAEP_SHA256) }
        let box = try AES.GCM.seal(plaintext, using: cek, authenticating: Array(protected.utf8))
        return ["protected": protected, "encrypted_key": Base64URL.encode(encryptedKey), "iv": Base64URL.encode(Array(box.nonce)),
                "ciphertext": Base64URL.encode(box.ciphertext), "tag": Base64URL.encode(box.tag)]
    }

    @Test("RSA TEE keys: the JWK is RSA-OAEP-256, a JWE to it decrypts, a tampered or misaddressed one does not")
    func rsaOAEP() throws {
        let key = try TEEKeyPair.make(.rsa)
        #expect(key.publicJWK["kty"]?.stringValue == "RSA" && key.publicJWK["alg"]?.stringValue == "RSA-OAEP-256")
        #expect(key.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let secret = Array("rsa-released".utf8)
        let jwe = try Self.makeJWE(secret, to: key.publicJWK)
        #expect(try JWEDecryption.decrypt(KeyBrokerTests.encode(jwe), with: key) == secret)
        var tampered = jwe
        var ciphertext = Base64URL.decode(jwe["ciphertext"] ?? "") ?? []
        ciphertext[0] ^= 1
        tampered["ciphertext"] = Base64URL.encode(ciphertext)
        #expect(throws: FascoError.self) { try JWEDecryption.decrypt(KeyBrokerTests.encode(tampered), with: key) }
        #expect(throws: FascoError.self) { try JWEDecryption.decrypt(KeyBrokerTests.encode(jwe), with: try TEEKeyPair.make(.rsa)) }
        #expect(throws: FascoError.self, "an RSA JWE for an EC key") { try JWEDecryption.decrypt(KeyBrokerTests.encode(jwe), with: TEEKeyPair()) }
    }
}
