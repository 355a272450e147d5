import CImageLibs
import Crypto
import FascoCore
import FoundationEssentials
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Where the keys of encrypted layers come from, for one container: the key broker (resources
/// released to the container's realm after it attested) and the node's own private keys.
public struct LayerKeys: Sendable {
    /// The plaintext of a key-broker resource (`kbs:///repo/type/tag`) released to the
    /// container's realm; nil when the container has no key broker.
    public var resource: (@Sendable (String) async throws(FascoError) -> [UInt8])?
    /// The plaintext of a JWE (JSON serialization) one of the node's private keys opens; nil
    /// when none does. Nil when the node has no decryption keys.
    public var jwe: (@Sendable ([UInt8]) throws(FascoError) -> [UInt8]?)?

    public init(resource: (@Sendable (String) async throws(FascoError) -> [UInt8])? = nil,
                jwe: (@Sendable ([UInt8]) throws(FascoError) -> [UInt8]?)? = nil) {
        self.resource = resource
        self.jwe = jwe
    }

    /// The private options of `layer` from the first of its wrapped copies these keys open. A
    /// broker's refusal is thrown as the broker gave it, with the layer named; a layer no key
    /// opens is FAILED_PRECONDITION.
    func unwrap(_ layer: EncryptedLayer) async throws(FascoError) -> PrivateLayerOptions {
        var tried: [String] = []
        var brokerFailure: FascoError?
        for wrapped in layer.wrapped {
            switch wrapped {
            case .attestationAgent(let packet):
                // A v2 packet may name a KMS instead of the key broker (CoCo's aliyun, ehsm).
                if let provider = packet.provider, provider != "kbs" {
                    tried.append("key \(packet.kid.prefix(200)) of KMS provider \(provider.prefix(40)) (Fasco unwraps with the key broker only)")
                    continue
                }
                guard packet.kid.hasPrefix("kbs:///") else {
                    tried.append("key \(packet.kid.prefix(200)) (not a kbs:/// resource)")
                    continue
                }
                guard let resource else {
                    tried.append("key broker resource \(packet.kid) (no key broker is configured for the pod)")
                    continue
                }
                let kek: [UInt8]
                do throws(FascoError) {
                    kek = try await resource(packet.kid)
                } catch {
                    brokerFailure = brokerFailure ?? error
                    tried.append("key broker resource \(packet.kid) (\(error.message))")
                    continue
                }
                return try PrivateLayerOptions(json: try Self.openAnnotationPacket(packet, kek: kek, layer: layer.digest), layer: layer.digest)
            case .jwe(let jwe):
                guard let open = self.jwe else {
                    tried.append("a JWE for a node key (the node has no [image] decryption_keys)")
                    continue
                }
                if let plaintext = try open(jwe) {
                    return try PrivateLayerOptions(json: plaintext, layer: layer.digest)
                }
                tried.append("a JWE none of the node's decryption keys opens")
            }
        }
        let detail = "cannot unwrap the key of encrypted layer \(layer.digest): tried " + tried.joined(separator: "; ")
        if let brokerFailure { throw FascoError(brokerFailure.code, detail) }
        throw .failedPrecondition(detail)
    }

    /// AES-256-GCM of CoCo's annotation packet (`wrap_type` A256GCM): the private options' JSON.
    static func openAnnotationPacket(_ packet: EncryptedLayer.AnnotationPacket, kek: [UInt8], layer: Digest) throws(FascoError) -> [UInt8] {
        let name = "the key of layer \(layer) (\(packet.kid))"
        guard (packet.wrap_type ?? "A256GCM") == "A256GCM" else {
            throw .failedPrecondition("\(name) is wrapped with \(packet.wrap_type ?? ""); Fasco unwraps A256GCM")
        }
        guard kek.count == 32 else {
            throw .failedPrecondition("\(name): the key broker's resource is \(kek.count) bytes, not a 32-byte AES-256 key")
        }
        guard let wrapped = Data(base64Encoded: packet.wrapped_data), wrapped.count > 16,
              let iv = Data(base64Encoded: packet.iv), iv.count == 12 else {
            throw .failedPrecondition("\(name): wrapped_data or iv is not base64 of the expected size")
        }
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: iv), ciphertext: wrapped.dropLast(16), tag: wrapped.suffix(16))
            return Array(try AES.GCM.open(box, using: SymmetricKey(data: kek)))
        } catch {
            throw .failedPrecondition("\(name) does not open with the key the broker released (wrong key or tampered packet)")
        }
    }
}

/// ocicrypt's AES-256-CTR-HMAC-SHA256 block cipher, decrypting.
enum LayerDecryption {
    /// Decrypts the blob at `blobPath` into a new file `plainPath` (0600). The HMAC of the
    /// ciphertext is compared with `layer.hmac` and the plaintext's digest with the options'
    /// before this returns: the file is complete and authentic, or removed and an error thrown.
    ///
    /// A partial file that cannot be removed is logged at debug: `plainPath` lies in a
    /// directory the caller removes when this throws (`unlockRootfs`: the container's `layers/`).
    static func decrypt(blobPath: String, to plainPath: String, layer: EncryptedLayer, options: PrivateLayerOptions,
                        logger: Logger) throws(FascoError) {
        let input = open(blobPath, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw .failedPrecondition("encrypted layer \(layer.digest) is not in the content store: \(FileSystem.errnoText)") }
        defer { close(input) }
        let output = open(plainPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw .internal("cannot create \(plainPath): \(FileSystem.errnoText)") }
        var complete = false
        defer {
            close(output)
            if !complete, unlink(plainPath) != 0, errno != ENOENT {
                logger.cleanUpFailed("remove a decrypted layer that failed its checks",
                                     error: FascoError.internal("cannot remove \(plainPath): \(FileSystem.errnoText)"),
                                     left: plainPath, digest: layer.digest, retried: true)
            }
        }
        guard let context = EVP_CIPHER_CTX_new() else { throw .internal("cannot allocate a cipher context") }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_DecryptInit_ex(context, EVP_aes_256_ctr(), nil, options.symmetricKey, options.nonce) == 1 else {
            throw .internal("cannot set up AES-256-CTR")
        }
        var mac = HMAC<SHA256>(key: SymmetricKey(data: options.symmetricKey))
        var plainDigest = DigestHasher(options.digest.algorithm)
        var plain = [UInt8](repeating: 0, count: (1 << 20) + 32)
        try FileSystem.readChunks(input, path: blobPath) { (chunk: UnsafeRawBufferPointer) throws(FascoError) in
            mac.update(data: chunk)
            var produced: Int32 = 0
            let ok = plain.withUnsafeMutableBytes { out in
                EVP_DecryptUpdate(context, out.baseAddress!.assumingMemoryBound(to: UInt8.self), &produced,
                                  chunk.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(chunk.count))
            }
            guard ok == 1 else { throw .internal("AES-256-CTR failed on layer \(layer.digest)") }
            var failure: FascoError?
            plain.withUnsafeBytes { bytes in
                let slice = UnsafeRawBufferPointer(rebasing: bytes[..<Int(produced)])
                plainDigest.update(slice)
                do throws(FascoError) { try Self.writeAll(output, slice, path: plainPath) } catch { failure = error }
            }
            if let failure { throw failure }
        }
        // The end is accepted only with the right HMAC (ocicrypt checks it at EOF too).
        guard Self.constantTimeEqual(Array(mac.finalize()), layer.hmac) else {
            throw .failedPrecondition("encrypted layer \(layer.digest) fails its HMAC: the blob or its annotations were tampered with, or the key is wrong")
        }
        let digest = plainDigest.finalize()
        guard digest == options.digest else {
            throw .failedPrecondition("encrypted layer \(layer.digest) decrypts to \(digest), not the \(options.digest) its key names")
        }
        complete = true
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(FascoError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw .internal("cannot write \(path): \(FileSystem.errnoText)") }
            offset += written
        }
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
