import FascoCore
import RealmAttestation

extension RealmManager {
    /// A realm's ID and attestation record: a container's or a pod's, by ID or unique prefix.
    public func attestation(of id: String) async throws(FascoError) -> (id: RealmID, record: RealmAttestationRecord) {
        guard !id.isEmpty else { throw .invalidArgument("a realm ID (a pod sandbox or container ID, or a unique prefix) is required") }
        let container = try await registry.containerRealm(id)
        let pod = try await registry.systemRealm(id)
        if container != nil && pod != nil {
            throw .invalidArgument("\(id) is the prefix of both a pod sandbox and a container ID: give more of it")
        }
        let found: (RealmID, RealmAttestationRecord?)
        if let container { found = (container.id, container.attestation) }
        else if let pod { found = (pod.id, pod.attestation) }
        else { throw .notFound("no pod sandbox or container \(id)") }
        guard let record = found.1 else {
            throw .failedPrecondition("realm \(found.0) was created before Fasco measured realms: it has no measurements")
        }
        return (found.0, record)
    }

    /// A CCA attestation token for a realm, with `challenge` (at most 64 bytes).
    public func attest(_ id: String, challenge: [UInt8], format: CCAToken.Format) async throws(FascoError) -> [UInt8] {
        guard let monitor else { throw .failedPrecondition("this node does not attest realms") }
        return try monitor.token(for: try await attestation(of: id).record, challenge: challenge, format: format)
    }
}
