import Crypto
import FascoCore
import FoundationEssentials
import KeyBroker
import Testing

@Suite struct KeyBrokerTests {
    /// CONFIDENTIAL.md section 5.3 (trustee kbs/src/attestation/backend.rs).
    @Test("the report-data binding matches RCAR 0.4.0's vector")
    func bindingVector() {
        let jwk = JSONText.object([
            ("kty", .string("EC")), ("x", .string("AAAA")), ("alg", .string("ECDH-ES+A256KW")), ("y", .string("BBBB")), ("crv", .string("P-256")),
        ])
        let document = ReportDataBinding.document(nonce: "bm9uY2U=", teePublicKey: jwk)
        #expect(document.canonical == #"{"additional-evidence":"","nonce":"bm9uY2U=","tee-pubkey":{"alg":"ECDH-ES+A256KW","crv":"P-256","kty":"EC","x":"AAAA","y":"BBBB"}}"#)
        let digest = ReportDataBinding.digest(nonce: "bm9uY2U=", teePublicKey: jwk)
        #expect(hex(digest) == "d20490d30e5f16cba693abc1ca3c31ed977d2722d0adf01a980972d16913dc38f103c1f12abf477df0523af2b12e4b43")
        let challenge = ReportDataBinding.realmChallenge(nonce: "bm9uY2U=", teePublicKey: jwk)
        #expect(challenge.count == 64 && Array(challenge.prefix(48)) == digest && challenge.suffix(16).allSatisfy { $0 == 0 })
    }

    @Test("canonical JSON escapes as JSON.stringify and sorts keys by UTF-16")
    func canonicalEscapes() {
        let value = JSONText.object([("b", .string("q\"\\\n\u{1}é")), ("a", .array([.integer(-3), .bool(true), .null]))])
        #expect(value.canonical == "{\"a\":[-3,true,null],\"b\":\"q\\\"\\\\\\n\\u0001é\"}")
    }

    /// RFC 7518 Appendix C: ECDH-ES with A128GCM, apu "Alice", apv "Bob".
    @Test("the Concat KDF gives RFC 7518 Appendix C's key")
    func concatKDFVector() throws {
        let bob = try P256.KeyAgreement.PrivateKey(rawRepresentation: try #require(Base64URL.decode("VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw")))
        let alice = try P256.KeyAgreement.PublicKey(x963Representation: [0x04]
            + (try #require(Base64URL.decode("gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0")))
            + (try #require(Base64URL.decode("SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps"))))
        let z = try bob.sharedSecretFromKeyAgreement(with: alice).withUnsafeBytes { Array($0) }
        let key = JWEDecryption.concatKDF(z: z, algorithm: "A128GCM", partyU: Array("Alice".utf8), partyV: Array("Bob".utf8), keyBits: 128)
        #expect(Base64URL.encode(key) == "VqqN6vgjbSBcIijNcacQGg")
    }

    /// A JWE to `recipient` made here, independently of the decryption code: ECDH with a fresh
    /// ephemeral key, the Concat KDF written out, AES key wrap, AES-256-GCM over the protected header.
    static func makeJWE(_ plaintext: [UInt8], to recipient: P256.KeyAgreement.PublicKey, aad: String? = nil) throws -> [String: String] {
        let ephemeral = P256.KeyAgreement.PrivateKey()
        let point = Array(ephemeral.publicKey.x963Representation)
        let header = #"{"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":{"crv":"P-256","kty":"EC","x":""# + Base64URL.encode(point[1..<33])
            + #"","y":""# + Base64URL.encode(point[33..<65]) + #""}}"#
        let protected = Base64URL.encode(Array(header.utf8))
        let z = try ephemeral.sharedSecretFromKeyAgreement(with: recipient).withUnsafeBytes { Array($0) }
        let alg = Array("ECDH-ES+A256KW".utf8)
        var info: [UInt8] = [0, 0, 0, UInt8(alg.count)] + alg + [0, 0, 0, 0] + [0, 0, 0, 0] + [0, 0, 1, 0]
        info = [0, 0, 0, 1] + z + info
        let kek = SymmetricKey(data: Array(SHA256.hash(data: info)))
        let cek = SymmetricKey(size: .bits256)
        let wrapped = try AES.KeyWrap.wrap(cek, using: kek)
        let nonce = AES.GCM.Nonce()
        var additional = Array(protected.utf8)
        if let aad { additional += Array(("." + aad).utf8) }
        let box = try AES.GCM.seal(plaintext, using: cek, nonce: nonce, authenticating: additional)
        var jwe = ["protected": protected, "encrypted_key": Base64URL.encode(wrapped), "iv": Base64URL.encode(Array(nonce)),
                   "ciphertext": Base64URL.encode(box.ciphertext), "tag": Base64URL.encode(box.tag)]
        if let aad { jwe["aad"] = aad }
        return jwe
    }

    static func encode(_ jwe: [String: String]) -> [UInt8] {
        JSONText.object(jwe.map { ($0.key, .string($0.value)) }).canonical.utf8.map { $0 }
    }

    @Test("a JWE made with known keys decrypts; a tampered tag, ciphertext, header, key or a wrong key is refused")
    func jweDecryption() throws {
        let tee = TEEKeyPair()
        let secret = Array("the plaintext resource \u{0}\u{ff}".utf8)
        let jwe = try Self.makeJWE(secret, to: tee.privateKey.publicKey)
        #expect(try JWEDecryption.decrypt(Self.encode(jwe), with: tee.privateKey) == secret)
        let withAAD = try Self.makeJWE(secret, to: tee.privateKey.publicKey, aad: "ZXh0cmE")
        #expect(try JWEDecryption.decrypt(Self.encode(withAAD), with: tee.privateKey) == secret)

        func flip(_ field: String) -> [String: String] {
            var copy = jwe
            var bytes = Base64URL.decode(copy[field] ?? "") ?? []
            bytes[bytes.count / 2] ^= 0x01
            copy[field] = Base64URL.encode(bytes)
            return copy
        }
        for field in ["tag", "ciphertext", "iv", "encrypted_key", "protected"] {
            #expect(throws: FascoError.self, "tampered \(field)") { try JWEDecryption.decrypt(Self.encode(flip(field)), with: tee.privateKey) }
        }
        var dropped = withAAD
        dropped["aad"] = nil
        #expect(throws: FascoError.self) { try JWEDecryption.decrypt(Self.encode(dropped), with: tee.privateKey) }
        #expect(throws: FascoError.self) { try JWEDecryption.decrypt(Self.encode(jwe), with: TEEKeyPair().privateKey) }
        #expect(throws: FascoError.self) { try JWEDecryption.decrypt(Array("{}".utf8), with: tee.privateKey) }
    }

    @Test("the TEE key's JWK and PEM")
    func teeKey() throws {
        let key = TEEKeyPair()
        #expect(key.publicJWK["alg"]?.stringValue == "ECDH-ES+A256KW" && key.publicJWK["crv"]?.stringValue == "P-256")
        #expect(Base64URL.decode(key.publicJWK["x"]?.stringValue ?? "")?.count == 32)
        #expect(key.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(TEEKeyPair().publicJWK != key.publicJWK, "a fresh key per session")
    }

    static func seal(_ payload: String, kid: String, with key: P256.Signing.PrivateKey) throws -> String {
        let header = Base64URL.encode(Array(#"{"alg":"ES256","kid":"\#(kid)"}"#.utf8))
        let body = Base64URL.encode(Array(payload.utf8))
        let signature = try key.signature(for: Array((header + "." + body).utf8))
        return "sealed." + header + "." + body + "." + Base64URL.encode(signature.rawRepresentation)
    }

    static func jwk(_ key: P256.Signing.PublicKey) -> [UInt8] {
        let point = Array(key.x963Representation)
        return Array(#"{"kty":"EC","crv":"P-256","x":"\#(Base64URL.encode(point[1..<33]))","y":"\#(Base64URL.encode(point[33..<65]))"}"#.utf8)
    }

    @Test("sealed secrets: a vault secret parses and verifies; a bad signature, another type or a bad URI is refused")
    func sealedSecrets() throws {
        let signer = P256.Signing.PrivateKey()
        let payload = #"{"version":"0.1.0","type":"vault","name":"kbs:///default/sealed/one","provider":"kbs","provider_settings":{},"annotations":{}}"#
        let sealed = try SealedSecret(try Self.seal(payload, kid: "kbs:///default/signing/key", with: signer))
        #expect(sealed.keyID.description == "kbs:///default/signing/key")
        guard case .brokerResource(let secret) = sealed.content else { Issue.record("not a broker resource: \(sealed.content)"); return }
        #expect(secret.path == "default/sealed/one")
        try sealed.verify(publicKeyJWK: Self.jwk(signer.publicKey))
        #expect(throws: FascoError.self) { try sealed.verify(publicKeyJWK: Self.jwk(P256.Signing.PrivateKey().publicKey)) }
        #expect(throws: FascoError.self) { try sealed.verify(publicKeyJWK: Array("not a key".utf8)) }
        let envelope = #"{"version":"0.1.0","type":"envelope","key_id":"kbs:///a/b/c","provider":"kbs"}"#
        #expect { try SealedSecret(try Self.seal(envelope, kid: "kbs:///a/b/c", with: signer)) } throws: {
            ($0 as? FascoError)?.message.contains("envelope secrets of provider aws") == true
        }
        #expect(throws: FascoError.self) { try SealedSecret(try Self.seal(payload, kid: "kbs:///a/../c", with: signer)) }
        #expect(throws: FascoError.self) { try SealedSecret("sealed.abc") }
    }

    @Test("resource URIs")
    func resourceURIs() throws {
        #expect(try ResourceURI(uri: "kbs:///default/key/1").path == "default/key/1")
        #expect(try ResourceURI(uri: "kbs://kbs.example/default/key/1").path == "default/key/1")
        #expect(try ResourceURI(path: "repo/type/tag.v1").description == "kbs:///repo/type/tag.v1")
        for bad in ["kbs:///a/b", "kbs:///a/b/c/d", "kbs:///a/../c", "kbs:///a/b/c%2f", "http://x/a/b/c", "kbs:///a//c"] {
            #expect(throws: FascoError.self, "\(bad)") { try ResourceURI(uri: bad) }
        }
    }

    func hex(_ bytes: [UInt8]) -> String {
        bytes.map { let h = String($0, radix: 16); return h.count == 1 ? "0" + h : h }.joined()
    }
}
