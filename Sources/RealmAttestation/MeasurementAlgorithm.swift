import Crypto

/// The hash algorithm of a realm's measurements (RMM spec DEN0137: RmiHashAlgorithm;
/// CCA token claim 44236 names it "sha-256" or "sha-512").
public enum MeasurementAlgorithm: String, Sendable, Codable, CaseIterable {
    case sha256 = "sha-256"
    case sha512 = "sha-512"

    /// The value of RmiRealmParams.hash_algo.
    public var rmiValue: UInt8 {
        switch self {
        case .sha256: 0
        case .sha512: 1
        }
    }

    public init?(rmiValue: UInt8) {
        switch rmiValue {
        case 0: self = .sha256
        case 1: self = .sha512
        default: return nil
        }
    }

    /// The digest size in bytes.
    public var digestSize: Int {
        switch self {
        case .sha256: 32
        case .sha512: 64
        }
    }

    public func hash(_ bytes: [UInt8]) -> [UInt8] {
        switch self {
        case .sha256: Array(SHA256.hash(data: bytes))
        case .sha512: Array(SHA512.hash(data: bytes))
        }
    }
}
