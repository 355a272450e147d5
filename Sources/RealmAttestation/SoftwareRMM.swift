import Crypto
import FascoCore
import Synchronization

/// The software backend's RMM: measures realms with the RMM specification's algorithms and
/// signs their tokens with software keys, under a platform identity that says it is software.
public final class SoftwareRMM: RealmMonitor {
    public let confidential = false
    /// The supervisor binary (fasco-realm), measured into every System Realm.
    let supervisor: [UInt8]
    let platformKey: [UInt8]
    /// Measured on first use: the binaries the platform token lists.
    let componentPaths: [(type: String, path: String)]
    let version: String
    private let components = Mutex<[PlatformIdentity.SoftwareComponent]?>(nil)
    /// Realm keys made ahead, so that measuring a realm does not wait for one.
    let keys = AttestationKeyPool()

    /// `platformKey` is the node's P-384 platform key (raw scalar); `components` the binaries
    /// named in platform tokens (fasco, fasco-realm, the OCI runtime).
    public init(supervisor: [UInt8], platformKey: [UInt8], components: [(type: String, path: String)], version: String) {
        self.supervisor = supervisor
        self.platformKey = platformKey
        self.componentPaths = components
        self.version = version
        keys.refill()
    }

    public func measureSystemRealm(_ document: SystemRealmDocument, options: RealmOptions) throws(FascoError) -> RealmAttestationRecord {
        try Self.measureSystemRealm(document, options: options, supervisor: supervisor, key: keys.take())
    }

    public func measureContainerRealm(_ document: ContainerRealmDocument, options: RealmOptions) throws(FascoError) -> RealmAttestationRecord {
        try Self.measureContainerRealm(document, options: options, key: keys.take())
    }

    /// The measurement of a System Realm (the same code computes reference values offline).
    public static func measureSystemRealm(_ document: SystemRealmDocument, options: RealmOptions,
                                          supervisor: [UInt8], key: [UInt8] = P384Key.make()) throws(FascoError) -> RealmAttestationRecord {
        var measurement = try RealmMeasurement(params: .fasco(options.algorithm), personalizationValue: options.personalizationValue)
        let documentIPA = try measurement.addData(ipa: RealmLayout.base, bytes: supervisor, what: "supervisor fasco-realm")
        let bytes = try document.canonicalBytes()
        try measurement.addData(ipa: documentIPA, bytes: bytes, what: "system realm document \(SystemRealmDocument.currentVersion)")
        try measurement.addREC(pc: RealmLayout.base, gprs: RealmLayout.registers([UInt64(supervisor.count), documentIPA, UInt64(bytes.count)]))
        return RealmAttestationRecord(measurement: measurement, attestationKey: key)
    }

    /// The measurement of a Container Realm (the same code computes reference values offline).
    public static func measureContainerRealm(_ document: ContainerRealmDocument, options: RealmOptions,
                                             key: [UInt8] = P384Key.make()) throws(FascoError) -> RealmAttestationRecord {
        var measurement = try RealmMeasurement(params: .fasco(options.algorithm), personalizationValue: options.personalizationValue)
        let bytes = try document.canonicalBytes()
        try measurement.addData(ipa: RealmLayout.base, bytes: bytes, what: "container realm document \(ContainerRealmDocument.currentVersion)")
        try measurement.addREC(pc: RealmLayout.base, gprs: RealmLayout.registers([UInt64(bytes.count), RealmLayout.base, UInt64(bytes.count)]))
        return RealmAttestationRecord(measurement: measurement, attestationKey: key)
    }

    public func token(for record: RealmAttestationRecord, challenge: [UInt8], format: CCAToken.Format) throws(FascoError) -> [UInt8] {
        try CCAToken.make(measurement: record.measurement, rak: try record.signingKey(), challenge: challenge,
                          platform: try platform(), format: format)
    }

    public func trustAnchor() throws(FascoError) -> PlatformIdentity.TrustAnchor {
        try platform().trustAnchor
    }

    func platform() throws(FascoError) -> PlatformIdentity {
        let key: P384.Signing.PrivateKey
        do { key = try P384.Signing.PrivateKey(rawRepresentation: platformKey) } catch {
            throw .internal("the platform key does not load", cause: error)
        }
        let measured = components.withLock { cached in
            if let cached { return cached }
            let made = componentPaths.map { component in
                let digest = (try? FileSystem.read(component.path, limit: 1 << 30)).map { MeasurementAlgorithm.sha256.hash($0) }
                return PlatformIdentity.SoftwareComponent(
                    type: component.type, measurement: digest ?? [UInt8](repeating: 0, count: 32), version: version,
                    signerID: [UInt8](repeating: 0, count: 32))
            }
            cached = made
            return made
        }
        return .software(key: key, components: measured)
    }
}
