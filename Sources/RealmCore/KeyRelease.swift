import FascoCore

/// Releases secrets from a key broker (Trustee's KBS, RCAR 0.4.0) to one realm: the realm attests
/// with its own evidence, which `evidence` makes (a CCA token whose challenge is the given report
/// data). Implemented by `KeyBroker.RealmKeyRelease`; RealmManager calls it for the guest API's
/// `/cdh/resource` and `/aa/token`, for sealed secrets at StartContainer, and for anyone else who
/// needs a resource released to a realm (`RealmManager.releasedResource`).
public protocol KeyRelease: Sendable {
    typealias Evidence = @Sendable (_ reportData: [UInt8]) async throws(FascoError) -> [UInt8]

    /// Whether a broker is configured for the pod (its initdata's `[kbc] url`, or the node's).
    func isConfigured(for pod: SystemRealm) -> Bool
    /// The plaintext of the resource `uri` (`kbs:///repo/type/tag`) released to `realm`.
    func resource(_ uri: String, realm: RealmID, of pod: SystemRealm, evidence: Evidence) async throws(FascoError) -> [UInt8]
    /// The realm's broker token (a JWT) and its session's TEE private key as PEM.
    func token(realm: RealmID, of pod: SystemRealm, evidence: Evidence) async throws(FascoError) -> (token: String, privateKeyPEM: String)
    /// The plaintext of a sealed secret (`sealed.` + a compact JWS), unsealed through the broker for `realm`.
    func unseal(_ sealed: String, realm: RealmID, of pod: SystemRealm, evidence: Evidence) async throws(FascoError) -> [UInt8]
    /// Forgets the realm's session (the realm is gone).
    func forget(realm: RealmID)
}

/// CoCo's sealed-secret prefix.
public enum SealedSecretPrefix {
    public static let value = "sealed."
}
