import Crypto
import FascoCore
import Foundation
@testable import ImageStore
import Logging
import OCISpec
import Synchronization
import Testing
import TestSupport

/// ocicrypt's layer cipher and CoCo's key packet, without a daemon: the decryption against the
/// NIST SP 800-38A CTR-AES256 vector (TestSupport.NISTCTRAES256), the HMAC and digest checks, the annotations' parsing and the
/// unwrapping of annotation packets.
@Suite("encrypted layers")
struct EncryptedLayerTests {
    static func b64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    static func json(_ object: [String: Any]) -> [UInt8] { Array(try! JSONSerialization.data(withJSONObject: object)) }

    /// A descriptor as ocicrypt writes it for `ciphertext`, with `hmac` and extra annotations.
    static func descriptor(hmac: [UInt8], mediaType: String = "application/vnd.oci.image.layer.v1.tar+gzip+encrypted",
                           annotations: [String: String]) -> Descriptor {
        var all = annotations
        all[EncryptedLayer.publicOptionsAnnotation] = b64(json(["cipher": "AES_256_CTR_HMAC_SHA256", "hmac": b64(hmac), "cipheroptions": [:]]))
        return Descriptor(mediaType: mediaType, digest: Digest.of(NISTCTRAES256.ciphertext).description,
                          size: Int64(NISTCTRAES256.ciphertext.count), annotations: all)
    }

    static var privateOptions: [UInt8] {
        json(["symkey": b64(NISTCTRAES256.key), "digest": Digest.of(NISTCTRAES256.plaintext).description,
              "cipheroptions": ["nonce": b64(NISTCTRAES256.counter)]])
    }

    /// CoCo's annotation packet wrapping the private options with `kek`.
    static func packet(kek: [UInt8], kid: String = "kbs:///default/image-key/1", options: [UInt8] = privateOptions) throws -> String {
        let iv = (0..<12).map { _ in UInt8.random(in: 0...255) }
        let box = try AES.GCM.seal(options, using: SymmetricKey(data: kek), nonce: AES.GCM.Nonce(data: iv))
        return b64(json(["kid": kid, "wrapped_data": b64(Array(box.ciphertext) + Array(box.tag)), "iv": b64(iv), "wrap_type": "A256GCM"]))
    }

    static var goodHMAC: [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: NISTCTRAES256.ciphertext, using: SymmetricKey(data: NISTCTRAES256.key)))
    }

    func decrypt(_ blob: [UInt8], layer: EncryptedLayer, options: PrivateLayerOptions) throws -> (Result<Void, FascoError>, [UInt8]?) {
        let directory = try FileSystem.makeTemporaryDirectory(prefix: "fasco-enc-")
        defer { try? FileSystem.removeTree(directory) }
        try FileSystem.writeAtomically(blob, to: directory + "/blob", durable: false)
        let result: Result<Void, FascoError>
        do throws(FascoError) {
            try LayerDecryption.decrypt(blobPath: directory + "/blob", to: directory + "/plain", layer: layer, options: options,
                                        logger: Logger(label: "test"))
            result = .success(())
        } catch {
            result = .failure(error)
        }
        return (result, try FileSystem.read(directory + "/plain"))
    }

    @Test("AES-256-CTR decrypts the NIST vector; the HMAC and the plain digest are checked and nothing is left when one fails")
    func decryption() throws {
        let kek = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let layer = try EncryptedLayer(Self.descriptor(hmac: Self.goodHMAC, annotations: [EncryptedLayer.attestationAgentAnnotation: try Self.packet(kek: kek)]))
        #expect(layer.compression == .gzip)
        let options = try PrivateLayerOptions(json: Self.privateOptions, layer: layer.digest)
        let (good, plain) = try decrypt(NISTCTRAES256.ciphertext, layer: layer, options: options)
        #expect((try? good.get()) != nil)
        #expect(plain == NISTCTRAES256.plaintext, "the NIST CTR-AES256 plaintext")

        var tampered = NISTCTRAES256.ciphertext
        tampered[17] ^= 1
        let (refused, left) = try decrypt(tampered, layer: layer, options: options)
        guard case .failure(let error) = refused else { Issue.record("a tampered blob decrypted"); return }
        #expect(error.code == .failedPrecondition && error.message.contains("HMAC"))
        #expect(left == nil, "no plaintext file is left")

        var otherDigest = options
        otherDigest.digest = Digest.of([1, 2, 3])
        let (mismatch, leftToo) = try decrypt(NISTCTRAES256.ciphertext, layer: layer, options: otherDigest)
        guard case .failure(let digestError) = mismatch else { Issue.record("a wrong digest was accepted"); return }
        #expect(digestError.code == .failedPrecondition && digestError.message.contains("decrypts to"))
        #expect(leftToo == nil)
    }

    @Test("annotation packets unwrap with the key the broker released, and only with it; a layer no key opens says what was tried")
    func unwrapping() async throws {
        let kek = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let layer = try EncryptedLayer(Self.descriptor(hmac: Self.goodHMAC, annotations: [EncryptedLayer.attestationAgentAnnotation: try Self.packet(kek: kek)]))
        let asked = Mutex<[String]>([])
        let right = LayerKeys(resource: { (uri: String) async throws(FascoError) -> [UInt8] in
            asked.withLock { $0.append(uri) }
            return kek
        })
        let options = try await right.unwrap(layer)
        #expect(options.symmetricKey == NISTCTRAES256.key && options.nonce == NISTCTRAES256.counter && options.digest == Digest.of(NISTCTRAES256.plaintext))
        #expect(asked.withLock { $0 } == ["kbs:///default/image-key/1"])

        let wrong = LayerKeys(resource: { (_: String) async throws(FascoError) -> [UInt8] in (0..<32).map { _ in 7 } })
        do { _ = try await wrong.unwrap(layer); Issue.record("a wrong key unwrapped") } catch {
            #expect(error.code == .failedPrecondition && error.message.contains("does not open"))
        }
        let refused = LayerKeys(resource: { (_: String) async throws(FascoError) -> [UInt8] in
            throw .permissionDenied("key broker http://kbs: PolicyDeny")
        })
        do { _ = try await refused.unwrap(layer); Issue.record("a refused key unwrapped") } catch {
            #expect(error.code == .permissionDenied && error.message.contains("PolicyDeny") && error.message.contains(layer.digest.description))
        }
        do { _ = try await LayerKeys().unwrap(layer); Issue.record("no keys unwrapped") } catch {
            #expect(error.code == .failedPrecondition && error.message.contains("no key broker"))
        }
        // A packet for a KMS, or whose kid is no broker resource, is not sent to the broker.
        for (kid, provider, words) in [("kms-key-1", "aliyun", "KMS provider aliyun"), ("https://evil.example/key", nil, "not a kbs:/// resource")] {
            var fields: [String: Any] = ["kid": kid, "wrapped_data": Self.b64(Array(repeating: 1, count: 40)), "iv": Self.b64(Array(repeating: 2, count: 12))]
            if let provider { fields["provider"] = provider }
            let other = try EncryptedLayer(Self.descriptor(hmac: Self.goodHMAC, annotations: [EncryptedLayer.attestationAgentAnnotation: Self.b64(Self.json(fields))]))
            do { _ = try await right.unwrap(other); Issue.record("\(kid) unwrapped") } catch {
                #expect(error.code == .failedPrecondition && error.message.contains(words), "\(error)")
            }
        }
        #expect(asked.withLock { $0 } == ["kbs:///default/image-key/1"], "the broker was asked for nothing else")
    }

    @Test("layers Fasco cannot decrypt are refused at pull, naming why", arguments: [
        ("no public options", "pubopts"), ("another cipher", "AES_128"), ("only a pgp wrapper", "enc.keys.pgp"), ("bad media type", "media type"),
    ])
    func refusals(_ situation: String, _ words: String) throws {
        let packet = try Self.packet(kek: Array(repeating: 1, count: 32))
        var descriptor = Self.descriptor(hmac: Self.goodHMAC, annotations: [EncryptedLayer.attestationAgentAnnotation: packet])
        switch situation {
        case "no public options": descriptor.annotations?[EncryptedLayer.publicOptionsAnnotation] = nil
        case "another cipher":
            descriptor.annotations?[EncryptedLayer.publicOptionsAnnotation] = Self.b64(Self.json(["cipher": "AES_128_CTR", "hmac": Self.b64(Self.goodHMAC)]))
        case "only a pgp wrapper":
            descriptor.annotations?[EncryptedLayer.attestationAgentAnnotation] = nil
            descriptor.annotations?["org.opencontainers.image.enc.keys.pgp"] = "AAAA"
        default: descriptor.mediaType = "application/vnd.oci.image.layer.v1.tar+bzip2+encrypted"
        }
        do {
            try ImageStore.checkLayerTypes([descriptor], of: "example/encrypted")
            Issue.record("\(situation) was accepted")
        } catch {
            #expect(error.code == .failedPrecondition && error.message.contains(words) && error.message.contains("example/encrypted"), "\(error)")
        }
    }
}
