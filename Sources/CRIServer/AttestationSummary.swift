import RealmAttestation

/// What verbose PodSandboxStatus and ContainerStatus say of a realm's measurement under the
/// `attestation` key: the backend, whether it is confidential (never on `software`), the hash
/// algorithm, RIM and REMs (hex).
struct AttestationSummary: Encodable {
    var backend: String
    var confidential: Bool
    var measured: Bool
    var hashAlgorithm: String?
    var rim: String?
    var rems: [String]?
    var personalizationValue: String?

    init(_ record: RealmAttestationRecord?, monitor: (any RealmMonitor)?) {
        backend = "software"
        confidential = monitor?.confidential ?? false
        measured = record != nil
        hashAlgorithm = record?.measurement.algorithm.rawValue
        rim = record.map { Hex.encode($0.measurement.rim) }
        rems = record?.measurement.rems.map(Hex.encode)
        personalizationValue = record.map { Hex.encode($0.measurement.personalizationValue) }
    }

    enum CodingKeys: String, CodingKey {
        case backend, confidential, measured, rim, rems
        case hashAlgorithm = "hash_algorithm"
        case personalizationValue = "personalization_value"
    }
}
