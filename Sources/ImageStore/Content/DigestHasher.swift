import CImageLibs
import FascoCore

/// Incremental SHA-256 / SHA-512 over libcrypto's EVP interface, for verifying
/// content as it streams.
public struct DigestHasher: ~Copyable {
    private let context: OpaquePointer
    public let algorithm: Digest.Algorithm
    public private(set) var byteCount: Int64 = 0

    public init(_ algorithm: Digest.Algorithm = .sha256) {
        self.algorithm = algorithm
        // EVP_MD_CTX_new fails only when out of memory.
        guard let context = EVP_MD_CTX_new() else { fatalError("out of memory creating a digest context") }
        self.context = context
        EVP_DigestInit_ex(context, algorithm == .sha256 ? EVP_sha256() : EVP_sha512(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
        byteCount += Int64(bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest of everything so far, leaving this hasher usable.
    public func finalizeCopy() -> Digest {
        guard let copy = EVP_MD_CTX_new() else { fatalError("out of memory copying a digest context") }
        defer { EVP_MD_CTX_free(copy) }
        EVP_MD_CTX_copy_ex(copy, context)
        return Self.finish(copy, algorithm)
    }

    public consuming func finalize() -> Digest {
        Self.finish(context, algorithm)
    }

    private static func finish(_ context: OpaquePointer, _ algorithm: Digest.Algorithm) -> Digest {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &output, &length)
        return Digest(algorithm: algorithm, encoded: Hex.encode(output.prefix(Int(length))))
    }
}
