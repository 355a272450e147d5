import FascoCore
import TOMLKit

extension RealmOptions {
    /// A pod's initdata (its text) and the TOML document of its `[data]` table's `cdh.toml`
    /// entry, CoCo's confidential-data-hub configuration; nil when the pod has no initdata or
    /// it has no `cdh.toml`. Initdata or a `cdh.toml` that cannot be read is INVALID_ARGUMENT.
    static func cdhConfig(annotations: [String: String]) throws(FascoError) -> (initData: [UInt8], cdh: TOMLTable)? {
        guard let encoded = annotations[initDataAnnotation] else { return nil }
        let (bytes, table) = try initData(encoded)
        guard let cdh = table["data"]?.table?["cdh.toml"]?.string else { return nil }
        return (bytes, try parseTOML(cdh, what: "annotation \(initDataAnnotation): data.\"cdh.toml\""))
    }
}

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
        guard let (bytes, config) = try RealmOptions.cdhConfig(annotations: annotations) else { return nil }
        let text = String(decoding: bytes, as: UTF8.self)
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
        guard let (_, config) = try RealmOptions.cdhConfig(annotations: annotations) else { return nil }
        guard let uri = config["image"]?.table?["image_security_policy_uri"]?.string, !uri.isEmpty else { return nil }
        guard uri.hasPrefix("kbs:///") else {
            throw .invalidArgument("annotation \(RealmOptions.initDataAnnotation): cdh.toml [image] image_security_policy_uri "
                + "\(uri.prefix(200).debugDescription) is not a kbs:/// resource")
        }
        return uri
    }
}

/// The credentials a pod's initdata asks its key broker for, as CoCo's confidential-data-hub
/// reads them: `cdh.toml`'s `[[credentials]]` tables, each a `path` under
/// `/run/confidential-containers/cdh/kbs` (no `.` or `..` parts) and the `resource_uri`
/// (`kbs:///repo/type/tag`) the broker releases for it. CoCo's KMS drivers read their
/// credentials from these paths (the `aws` driver: `kms-credential/aws/credential.json`); Fasco
/// has no guest file system, so the path only says which resource holds the credential.
public enum InitDataCredentials {
    /// Where CoCo's confidential-data-hub keeps what `[[credentials]]` fetch.
    public static let directory = "/run/confidential-containers/cdh/kbs"
    /// Where CoCo's `aws` KMS driver reads its credential file.
    public static let awsCredentialPath = directory + "/kms-credential/aws/credential.json"
    /// Where CoCo's `aliyun` KMS driver reads its client keys, passwords and instance CAs.
    public static let aliyunCredentialDirectory = directory + "/kms-credential/aliyun"

    /// path → resource URI; empty when the pod has no initdata or it asks for no credentials.
    /// A malformed entry is INVALID_ARGUMENT naming it (RunPodSandbox refuses such initdata).
    public static func from(annotations: [String: String]) throws(FascoError) -> [String: String] {
        guard let (_, config) = try RealmOptions.cdhConfig(annotations: annotations) else { return [:] }
        guard let value = config["credentials"] else { return [:] }
        let what = "annotation \(RealmOptions.initDataAnnotation): cdh.toml [[credentials]]"
        guard let entries = value.array else { throw .invalidArgument("\(what) is not an array of tables") }
        var credentials: [String: String] = [:]
        for (index, entry) in entries.enumerated() {
            guard let entry = entry.table, let path = entry["path"]?.string, let uri = entry["resource_uri"]?.string else {
                throw .invalidArgument("\(what) entry \(index) is not a table with path and resource_uri strings")
            }
            guard path.hasPrefix(directory + "/"), !path.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) else {
                throw .invalidArgument("\(what) entry \(index): path \(path.prefix(200).debugDescription) is not below \(directory) "
                    + "without . or .. parts (as CoCo requires)")
            }
            guard uri.hasPrefix("kbs:///") || uri.hasPrefix("kbs://") else {
                throw .invalidArgument("\(what) entry \(index): resource_uri \(uri.prefix(200).debugDescription) is not a kbs:/// resource")
            }
            credentials[path] = uri
        }
        return credentials
    }
}
