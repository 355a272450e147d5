import FascoCore

/// An OCI content digest (descriptor.md "Digests"): `algorithm:encoded`.
/// Fasco verifies sha256 and sha512; other algorithms are rejected.
public struct Digest: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    public enum Algorithm: String, Sendable, Codable {
        case sha256, sha512

        var hexLength: Int { self == .sha256 ? 64 : 128 }
    }

    public let algorithm: Algorithm
    /// Lower-case hex.
    public let encoded: String

    /// Parses `sha256:<64 lower-case hex>` or `sha512:<128 lower-case hex>`.
    public init(parsing text: String) throws(FascoError) {
        guard let colon = text.firstIndex(of: ":"),
              let algorithm = Algorithm(rawValue: String(text[..<colon])) else {
            throw .invalidArgument("\(text.prefix(200)) is not a sha256 or sha512 digest")
        }
        let encoded = String(text[text.index(after: colon)...])
        guard encoded.utf8.count == algorithm.hexLength,
              encoded.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw .invalidArgument("\(text.prefix(200)) is not a valid \(algorithm.rawValue) digest")
        }
        self.algorithm = algorithm
        self.encoded = encoded
    }

    init(algorithm: Algorithm, encoded: String) {
        self.algorithm = algorithm
        self.encoded = encoded
    }

    public var description: String { "\(algorithm.rawValue):\(encoded)" }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = try Digest(parsing: text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// The digest of `bytes`.
    public static func of(_ bytes: some Collection<UInt8>, algorithm: Algorithm = .sha256) -> Digest {
        var hasher = DigestHasher(algorithm)
        hasher.update(Array(bytes))
        return hasher.finalize()
    }
}
