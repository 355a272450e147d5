import Crypto
import FascoCore
import FoundationEssentials

/// A realm's attestation state as its record keeps it: its measurements and its realm
/// attestation key (RAK), whose private part never leaves the node (realm records are 0600
/// under Fasco's root).
public struct RealmAttestationRecord: Sendable, Equatable, Codable {
    public var measurement: RealmMeasurement
    /// The RAK's private scalar (P-384, 48 bytes).
    public var attestationKey: [UInt8]

    public init(measurement: RealmMeasurement, attestationKey: [UInt8]) {
        self.measurement = measurement
        self.attestationKey = attestationKey
    }

    enum CodingKeys: String, CodingKey {
        case measurement
        case attestationKey = "attestation_key"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        measurement = try container.decode(RealmMeasurement.self, forKey: .measurement)
        attestationKey = Array(try container.decode(Data.self, forKey: .attestationKey))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(measurement, forKey: .measurement)
        try container.encode(Data(attestationKey), forKey: .attestationKey)
    }

    func signingKey() throws(FascoError) -> P384.Signing.PrivateKey {
        do { return try P384.Signing.PrivateKey(rawRepresentation: attestationKey) } catch {
            throw .internal("the realm attestation key does not load", cause: error)
        }
    }
}

/// The seam between realms and whatever measures and attests them: Fasco's software RMM on
/// the `software` backend; on Arm CCA hardware, the real RMM (the values then come from it).
public protocol RealmMonitor: Sendable {
    /// Whether the realms' memory is hidden from the node (false for the software backend).
    var confidential: Bool { get }
    /// Measures a new System Realm: its parameters, the supervisor, then its document.
    func measureSystemRealm(_ document: SystemRealmDocument, options: RealmOptions) throws(FascoError) -> RealmAttestationRecord
    /// Measures a new Container Realm: its parameters, then its document.
    func measureContainerRealm(_ document: ContainerRealmDocument, options: RealmOptions) throws(FascoError) -> RealmAttestationRecord
    /// A CCA attestation token for the realm, with `challenge` (at most 64 bytes).
    func token(for record: RealmAttestationRecord, challenge: [UInt8], format: CCAToken.Format) throws(FascoError) -> [UInt8]
    /// The platform's identity (key, IDs) as a relying party's trust-anchor store takes it.
    func trustAnchor() throws(FascoError) -> PlatformIdentity.TrustAnchor
}

/// Where a realm's measured content is loaded (IPA) and how its REC starts, so that the
/// measurement can be recomputed: documented in docs/attestation.md.
public enum RealmLayout {
    /// The first data granule's IPA.
    public static let base: UInt64 = 0
    /// The REC's general-purpose registers: x0 = bytes of the first image, x1 = IPA of the
    /// document (System Realms), x2 = its size; the rest zero.
    public static func registers(_ values: [UInt64]) -> [UInt64] {
        Array((values + [UInt64](repeating: 0, count: 8)).prefix(8))
    }
}
