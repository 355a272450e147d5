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
    private func evidence(of container: ContainerRealm) -> KeyRelease.Evidence {
        { [self] (reportData: [UInt8]) async throws(FascoError) -> [UInt8] in
            try await guestEvidence(container, challenge: reportData, format: .legacy)
        }
    }

    /// Unseals every environment value of the created container that starts with `sealed.`
    /// (CoCo's sealed secrets) through the key broker, as the container's realm, and hands the
    /// plaintext to the process's environment only (the measured document keeps the sealed form).
    /// A value that cannot be unsealed is FAILED_PRECONDITION naming the variable (never its value).
    func unsealEnvironment(_ container: ContainerRealm, of pod: SystemRealm, bundle: String) async throws(FascoError) {
        var environment = try await backend.processEnvironment(container, bundle: bundle)
        let sealed = environment.indices.filter { index in
            guard let equals = environment[index].firstIndex(of: "=") else { return false }
            return environment[index][environment[index].index(after: equals)...].hasPrefix(SealedSecretPrefix.value)
        }
        guard !sealed.isEmpty else { return }
        for index in sealed {
            let entry = environment[index]
            guard let equals = entry.firstIndex(of: "=") else { continue }
            let name = String(entry[..<equals])
            let value = String(entry[entry.index(after: equals)...])
            let what = "environment variable \(name) of container \(container.id.short)"
            guard let keyRelease, keyRelease.isConfigured(for: pod) else {
                throw .failedPrecondition("\(what) is a sealed secret, but no key broker is configured for its pod (initdata cdh.toml [kbc] url, or fasco.toml [kbs] url)")
            }
            let plaintext: [UInt8]
            do throws(FascoError) {
                plaintext = try await keyRelease.unseal(value, realm: container.id, of: pod, evidence: evidence(of: container))
            } catch {
                throw .failedPrecondition("\(what) cannot be unsealed: \(error.message)")
            }
            guard !plaintext.contains(0), let text = String(validating: plaintext, as: UTF8.self) else {
                throw .failedPrecondition("\(what): the unsealed secret is not UTF-8 text without NUL, so it cannot be an environment value")
            }
            environment[index] = name + "=" + text
        }
        try await backend.replaceProcessEnvironment(container, bundle: bundle, with: environment)
    }
}
