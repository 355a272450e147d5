import FascoCore

/// One place a registry's content can be fetched from: the registry itself or a mirror.
public struct RegistryEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// `https://registry.example:5443` or `http://127.0.0.1:5000`; a path prefix is allowed
    /// (`https://mirror.example/proxy`), the API path `/v2/…` is appended to it.
    public var url: String
    /// PEM CA bundle to trust for this endpoint (see `TLSOptions.caFile`).
    public var caFile: String?
    public var insecureSkipVerify: Bool
    /// Mirrors are tried, in order, before the upstream; any failure of a mirror falls
    /// through to the next endpoint.
    public var isMirror: Bool

    public init(url: String, caFile: String? = nil, insecureSkipVerify: Bool = false, isMirror: Bool = false) {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        self.url = url
        self.caFile = caFile
        self.insecureSkipVerify = insecureSkipVerify
        self.isMirror = isMirror
    }

    /// The registry itself over HTTPS; Docker Hub's API lives at registry-1.docker.io.
    public static func upstream(for host: String) -> RegistryEndpoint {
        let apiHost = host == "docker.io" || host == "index.docker.io" ? "registry-1.docker.io" : host
        return RegistryEndpoint(url: "https://" + apiHost)
    }

    var tls: TLSOptions { TLSOptions(caFile: caFile, insecureSkipVerify: insecureSkipVerify) }

    /// `host[:port]` of the URL, lower-cased.
    var authority: String { Self.authority(of: url) }

    static func authority(of url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return "" }
        let rest = url[schemeEnd.upperBound...]
        let isDelimiter: (Character) -> Bool = { $0 == "/" || $0 == "?" || $0 == "#" }
        let end = rest.firstIndex(where: isDelimiter) ?? rest.endIndex
        var authority = rest[..<end]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        return authority.lowercased()
    }

    func validate() throws(FascoError) {
        let lowered = url.lowercased()
        guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://"), !authority.isEmpty else {
            throw .invalidArgument("registry endpoint \"\(url.prefix(200))\" must be an http:// or https:// URL with a host")
        }
        guard HTTPHeaders.isSafe(url), !url.contains(" "), !url.contains("?"), !url.contains("#") else {
            throw .invalidArgument("registry endpoint \"\(url.prefix(200))\" has spaces, control characters, a query or a fragment")
        }
    }

    public var description: String { isMirror ? "mirror \(url)" : url }
}

/// How often, and how patiently, a request to the upstream endpoint is repeated after a
/// connection failure, a 5xx or a 429. Mirrors get one attempt: the next endpoint is their retry.
public struct RegistryRetryPolicy: Sendable {
    public var maxAttempts: Int
    public var initialBackoff: Duration
    public var backoffMultiplier: Int
    /// The longest `Retry-After` honoured; longer requests are cut to this.
    public var maxRetryAfter: Duration

    public init(maxAttempts: Int = 3, initialBackoff: Duration = .milliseconds(200), backoffMultiplier: Int = 4,
                maxRetryAfter: Duration = .seconds(10)) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.backoffMultiplier = backoffMultiplier
        self.maxRetryAfter = maxRetryAfter
    }

    /// 200 ms after the first attempt, 800 ms after the second, …
    func backoff(afterAttempt attempt: Int) -> Duration {
        var delay = initialBackoff
        for _ in 1..<max(1, attempt) { delay *= backoffMultiplier }
        return delay
    }
}
