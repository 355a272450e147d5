import FascoCore
import TOMLKit

/// Where a pod's key broker is, as CoCo's confidential-data-hub reads it from the pod's initdata:
/// the `[data]` table's `cdh.toml` entry, a TOML document whose `[kbc]` table has `url` (and
/// `kbs_cert`, a PEM certificate to trust for it).
public struct InitDataKeyBroker: Sendable, Equatable {
    public var url: String
    public var certificatePEM: String?
    /// The initdata document's text, which RCAR's attest request carries (`init-data`).
    public var initDataText: String

    /// The pod's key broker from its annotations; nil when the pod has no initdata or its
    /// initdata names no broker. Initdata that cannot be read is INVALID_ARGUMENT (RunPodSandbox
    /// refused it already).
    public static func from(annotations: [String: String]) throws(FascoError) -> InitDataKeyBroker? {
        guard let encoded = annotations[RealmOptions.initDataAnnotation] else { return nil }
        let (bytes, table) = try RealmOptions.initData(encoded)
        let text = String(decoding: bytes, as: UTF8.self)
        guard let cdh = table["data"]?.table?["cdh.toml"]?.string else { return nil }
        let config = try RealmOptions.parseTOML(cdh, what: "annotation \(RealmOptions.initDataAnnotation): data.\"cdh.toml\"")
        guard let url = config["kbc"]?.table?["url"]?.string, !url.isEmpty else { return nil }
        var certificate: String?
        if let pem = config["kbc"]?.table?["kbs_cert"]?.string, !pem.isEmpty { certificate = pem }
        return InitDataKeyBroker(url: url, certificatePEM: certificate, initDataText: text)
    }

    /// The initdata text alone (RCAR's `init-data` body), whether or not it names a broker.
    public static func initDataText(annotations: [String: String]) -> String? {
        guard let encoded = annotations[RealmOptions.initDataAnnotation], let (bytes, _) = try? RealmOptions.initData(encoded) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The image signature policy a pod's initdata asks for, as CoCo's confidential-data-hub reads
/// it: `cdh.toml`'s `[image] image_security_policy_uri`, a `kbs:///repo/type/tag` resource the
/// key broker releases to the pod's realms (a containers-policy.json document).
public enum InitDataImagePolicy {
    /// The policy's resource URI; nil when the pod has no initdata or it names no policy.
    /// Initdata that cannot be read is INVALID_ARGUMENT (RunPodSandbox refused it already).
    public static func uri(annotations: [String: String]) throws(FascoError) -> String? {
        guard let encoded = annotations[RealmOptions.initDataAnnotation] else { return nil }
        let (_, table) = try RealmOptions.initData(encoded)
        guard let cdh = table["data"]?.table?["cdh.toml"]?.string else { return nil }
        let config = try RealmOptions.parseTOML(cdh, what: "annotation \(RealmOptions.initDataAnnotation): data.\"cdh.toml\"")
        guard let uri = config["image"]?.table?["image_security_policy_uri"]?.string, !uri.isEmpty else { return nil }
        guard uri.hasPrefix("kbs:///") else {
            throw .invalidArgument("annotation \(RealmOptions.initDataAnnotation): cdh.toml [image] image_security_policy_uri "
                + "\(uri.prefix(200).debugDescription) is not a kbs:/// resource")
        }
        return uri
    }
}
