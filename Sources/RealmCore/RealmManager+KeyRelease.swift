import FascoCore
import RealmAttestation

/// Secrets released by a key broker to a realm (`KeyRelease`): always as the realm they are for,
/// with that realm's own evidence.
extension RealmManager {
    /// Sets the key broker client (once, at start).
    public func useKeyRelease(_ service: any KeyRelease) {
        keyReleaseService.withLock { $0 = service }
    }

    var keyRelease: (any KeyRelease)? { keyReleaseService.withLock { $0 } }

    /// Whether container `container`'s pod has a key broker (its initdata's or the node's).
    public func hasKeyBroker(_ container: ContainerRealm) async throws(FascoError) -> Bool {
        guard let keyRelease, let pod = try await registry.systemRealm(container.systemRealm.value) else { return false }
        return keyRelease.isConfigured(for: pod)
    }

    /// The plaintext of the resource `uri` (`kbs:///repo/type/tag`) as the key broker releases it
    /// to the live container `container`'s realm, which attests with its own evidence. The one
    /// call for anything that needs a secret for a realm (the guest API, sealed secrets, image keys).
    public func releasedResource(_ uri: String, to container: ContainerRealm) async throws(FascoError) -> [UInt8] {
        let (service, pod) = try await keyBroker(for: container)
        return try await service.resource(uri, realm: container.id, of: pod, evidence: evidence(of: container))
    }

    /// The container's broker token and its session's TEE private key (PEM): CoCo's `/aa/token`.
    public func keyBrokerToken(for container: ContainerRealm) async throws(FascoError) -> (token: String, privateKeyPEM: String) {
        let (service, pod) = try await keyBroker(for: container)
        return try await service.token(realm: container.id, of: pod, evidence: evidence(of: container))
    }

    private func keyBroker(for container: ContainerRealm) async throws(FascoError) -> (any KeyRelease, SystemRealm) {
        guard let pod = try await registry.systemRealm(container.systemRealm.value) else {
            throw .notFound("pod sandbox \(container.systemRealm) not found")
        }
        guard let keyRelease, keyRelease.isConfigured(for: pod) else {
            throw .failedPrecondition("no key broker is configured for pod \(pod.id) (its initdata's cdh.toml [kbc] url, or fasco.toml [kbs] url)")
        }
        return (keyRelease, pod)
    }

    /// The container realm's CCA token (legacy, as CoCo's CCA attester gives it) for report data.
    func evidence(of container: ContainerRealm) -> KeyRelease.Evidence {
        { [self] (reportData: [UInt8]) async throws(FascoError) -> [UInt8] in
            try await guestEvidence(container, challenge: reportData, format: .legacy)
        }
    }
}
