import FascoCore

/// Per-registry settings (fasco.toml `[registry.hosts."…"]`) and the image sources they make.
public struct RegistryHosts: Sendable {
    public struct Host: Sendable, Equatable {
        /// Tried in order before the registry itself.
        public var mirrors: [String]
        public var caFile: String?
        public var insecureSkipVerify: Bool
        /// Plain HTTP to the registry itself; nil: only for loopback hosts.
        public var plainHTTP: Bool?

        public init(mirrors: [String] = [], caFile: String? = nil, insecureSkipVerify: Bool = false, plainHTTP: Bool? = nil) {
            self.mirrors = mirrors
            self.caFile = caFile
            self.insecureSkipVerify = insecureSkipVerify
            self.plainHTTP = plainHTTP
        }
    }

    public var hosts: [String: Host]

    public init(hosts: [String: Host] = [:]) { self.hosts = hosts }

    /// Mirrors first, then the registry itself.
    public func endpoints(for host: String) -> [RegistryEndpoint] {
        let settings = hosts[host] ?? Host()
        let mirrors = settings.mirrors.map {
            RegistryEndpoint(url: $0, caFile: settings.caFile, insecureSkipVerify: settings.insecureSkipVerify, isMirror: true)
        }
        var upstream = RegistryEndpoint.upstream(for: host)
        if settings.plainHTTP ?? Self.isLoopback(host) { upstream.url = "http://" + host }
        upstream.caFile = settings.caFile
        upstream.insecureSkipVerify = settings.insecureSkipVerify
        return mirrors + [upstream]
    }

    /// The source a pull of `reference` reads from.
    public func source(_ reference: ImageReference, _ credentials: RegistryCredentials?) -> any ImageSource {
        do {
            return try RegistryClient(host: reference.domain, endpoints: endpoints(for: reference.domain),
                                      credentials: credentials ?? RegistryCredentials())
        } catch {
            return UnusableSource(error: error)
        }
    }

    /// localhost, 127.0.0.0/8 and ::1, with or without a port.
    static func isLoopback(_ host: String) -> Bool {
        var name = Substring(host)
        if name.hasPrefix("["), let close = name.firstIndex(of: "]") {
            name = name[name.index(after: name.startIndex)..<close]
            return name == "::1"
        }
        if let colon = name.lastIndex(of: ":") { name = name[..<colon] }
        return name == "localhost" || name.hasPrefix("127.")
    }
}

/// A source that only reports why it could not be made.
struct UnusableSource: ImageSource {
    let error: FascoError

    func manifest(repository: String, reference: String) async throws(FascoError) -> FetchedManifest { throw error }
    func blob(repository: String, digest: Digest, size: Int64, into writer: BlobWriter) async throws(FascoError) { throw error }
}
