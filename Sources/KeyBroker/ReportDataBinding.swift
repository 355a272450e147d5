import Crypto

/// How RCAR 0.4.0 binds the broker's nonce and the TEE key to the evidence (trustee
/// `kbs/src/attestation/backend.rs`): SHA-384 over the RFC 8785 canonical JSON of
/// `{"additional-evidence", "nonce", "tee-pubkey"}`, zero-padded to 64 bytes for CCA.
public enum ReportDataBinding {
    public static func document(nonce: String, teePublicKey: JSONText, additionalEvidence: String = "") -> JSONText {
        .object([("additional-evidence", .string(additionalEvidence)), ("nonce", .string(nonce)), ("tee-pubkey", teePublicKey)])
    }

    /// The 48-byte digest.
    public static func digest(nonce: String, teePublicKey: JSONText, additionalEvidence: String = "") -> [UInt8] {
        let text = document(nonce: nonce, teePublicKey: teePublicKey, additionalEvidence: additionalEvidence).canonical
        return Array(SHA384.hash(data: Array(text.utf8)))
    }

    /// The realm challenge: the digest zero-padded to 64 bytes.
    public static func realmChallenge(nonce: String, teePublicKey: JSONText, additionalEvidence: String = "") -> [UInt8] {
        digest(nonce: nonce, teePublicKey: teePublicKey, additionalEvidence: additionalEvidence) + [UInt8](repeating: 0, count: 16)
    }
}
