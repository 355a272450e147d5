import FascoCore

/// The canonical document a System Realm's RIM measures after its supervisor: the pod's
/// behaviour-defining settings (namespace modes, user namespace ranges, sysctls, security
/// context, runtime handler) as a flat map of names to values, which the layer above fills
/// from the pod's config (docs/attestation.md lists the names).
public struct SystemRealmDocument: Sendable, Equatable, Codable {
    public static let currentVersion = "fasco.system-realm/1"

    public var version: String
    public var runtimeHandler: String
    public var settings: [String: String]

    public init(runtimeHandler: String, settings: [String: String]) {
        version = Self.currentVersion
        self.runtimeHandler = runtimeHandler
        self.settings = settings
    }

    public func canonicalBytes() throws(FascoError) -> [UInt8] {
        try CanonicalJSON.encode(self)
    }
}
