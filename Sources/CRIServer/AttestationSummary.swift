import FascoCore
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

    /// What verbose Status says of the node: which backend measures realms and what it protects.
    struct Node: Encodable {
        var backend = "software"
        var measures: Bool
        var confidential: Bool
        var hardwareBacked = false
        var protects = "isolation by Linux namespaces, cgroups, seccomp and capabilities; measurement and attestation of realm configuration by a software RMM whose keys are the node's"
        var doesNotProtect = "realm memory and data from the node's root, kernel or hypervisor: there is no hardware root of trust"

        init(monitor: (any RealmMonitor)?) {
            measures = monitor != nil
            confidential = monitor?.confidential ?? false
        }

        enum CodingKeys: String, CodingKey {
            case backend, measures, confidential, protects
            case hardwareBacked = "hardware_backed"
            case doesNotProtect = "does_not_protect"
        }
    }

    enum CodingKeys: String, CodingKey {
        case backend, confidential, measured, rim, rems
        case hashAlgorithm = "hash_algorithm"
        case personalizationValue = "personalization_value"
    }
}
