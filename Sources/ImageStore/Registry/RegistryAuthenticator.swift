import FascoCore
import FoundationEssentials
import Synchronization

/// Why one attempt against one endpoint failed, and what to do about it.
struct AttemptFailure: Error {
    var error: FascoError
    /// Connection trouble, 5xx, 429: the same endpoint may answer next time.
    var retryable = false
    var retryAfter: Duration?
    /// A cancel, or the caller's sink failed: stop, do not try other endpoints.
    var isFinal = false
    /// The endpoint sent wrong content (digest or size): bytes taken from it are worthless.
    var isBadContent = false

    init(_ error: FascoError, retryable: Bool = false, retryAfter: Duration? = nil, isFinal: Bool = false, isBadContent: Bool = false) {
        self.error = error
        self.retryable = retryable
        self.retryAfter = retryAfter
        self.isFinal = isFinal || error.isCancellation
        self.isBadContent = isBadContent
    }

    /// A transport-level failure from the HTTP client.
    static func transport(_ error: FascoError, endpoint: RegistryEndpoint) -> AttemptFailure {
        guard let transport = error.transportError else { return AttemptFailure(error) }
        var error = error
        if transport.kind == .tls {
            error.message += endpoint.caFile == nil && !endpoint.insecureSkipVerify
                ? " (the registry's certificate is not trusted: configure its CA file, or insecureSkipVerify for a test registry)"
                : ""
        }
        return AttemptFailure(error, retryable: transport.isRetryable)
    }
}

/// Registry authentication per the Docker token specification: anonymous first; on a
/// 401, Basic credentials or a Bearer token fetched from the challenge's realm, cached
/// per (realm, service, scope) until it expires. What a (endpoint, repository) pair was
/// challenged with is remembered, so later requests authenticate up front.
final class RegistryAuthenticator: Sendable {
    let host: String
    let credentials: RegistryCredentials
    let http: HTTPClient
    private let state = Mutex(State())

    private struct State: ~Copyable {
        var tokens: [TokenKey: Token] = [:]
        var challenges: [ScopeKey: AuthChallenge] = [:]
        /// The latest challenge per endpoint, for repositories not asked for yet.
        var endpointChallenges: [String: AuthChallenge] = [:]
    }

    struct TokenKey: Hashable {
        var realm: String
        var service: String
        var scope: String
    }

    private struct ScopeKey: Hashable {
        var endpoint: String
        var repository: String
    }

    struct Token {
        var value: String
        var expires: ContinuousClock.Instant
    }

    init(host: String, credentials: RegistryCredentials, http: HTTPClient) {
        self.host = host
        self.credentials = credentials
        self.http = http
    }

    /// `user:password` from username/password, or decoded from `auth`.
    var basicCredentials: (username: String, password: String)? {
        if !credentials.username.isEmpty || !credentials.password.isEmpty {
            return (credentials.username, credentials.password)
        }
        guard !credentials.auth.isEmpty else { return nil }
        guard let data = Data(base64Encoded: credentials.auth.httpTrimmed),
              let text = String(bytes: data, encoding: .utf8),
              let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    static func basicHeader(_ username: String, _ password: String) -> String {
        "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }

    /// The Authorization header to send before any challenge, from what earlier
    /// challenges taught; nil to go anonymous.
    func authorization(endpoint: RegistryEndpoint, repository: String) async throws(AttemptFailure) -> String? {
        if !credentials.registryToken.isEmpty { return "Bearer " + credentials.registryToken }
        let key = ScopeKey(endpoint: endpoint.url, repository: repository)
        let known: AuthChallenge? = state.withLock { state in
            if let exact = state.challenges[key] { return exact }
            // Another repository of this endpoint was challenged: the same realm and
            // service, with this repository's pull scope (as Docker's client does).
            guard let other = state.endpointChallenges[endpoint.url] else { return nil }
            guard other.scheme == "bearer" else { return other }
            var parameters = other.parameters
            parameters["scope"] = "repository:\(repository):pull"
            return AuthChallenge(scheme: other.scheme, parameters: parameters)
        }
        guard let challenge = known else { return nil }
        return try await answer(challenge, endpoint: endpoint, repository: repository, rejected: nil, registryMessage: nil)
    }

    /// After a 401: the credentials to retry with, or UNAUTHENTICATED when there are none
    /// (or they are the very ones just rejected).
    func respond(to headers: HTTPHeaders, endpoint: RegistryEndpoint, repository: String, rejected: String?,
                 registryMessage: String?) async throws(AttemptFailure) -> String {
        let challenges = AuthChallenge.parse(headers.values(for: "WWW-Authenticate"))
        if !credentials.registryToken.isEmpty {
            throw AttemptFailure(.init(.unauthenticated, "registry \(host) rejected the registry token for \(repository)" + Self.says(registryMessage)))
        }
        guard let challenge = challenges.first(where: { $0.scheme == "bearer" }) ?? challenges.first(where: { $0.scheme == "basic" }) else {
            let schemes = challenges.map(\.scheme).joined(separator: ", ")
            throw AttemptFailure(.init(.unauthenticated, "registry \(host) requires authentication for \(repository) "
                + (schemes.isEmpty ? "but sent no usable WWW-Authenticate challenge" : "with an unsupported scheme (\(schemes))")
                + Self.says(registryMessage)))
        }
        let header = try await answer(challenge, endpoint: endpoint, repository: repository, rejected: rejected, registryMessage: registryMessage)
        state.withLock { state in
            state.challenges[ScopeKey(endpoint: endpoint.url, repository: repository)] = challenge
            state.endpointChallenges[endpoint.url] = challenge
        }
        return header
    }

    private func answer(_ challenge: AuthChallenge, endpoint: RegistryEndpoint, repository: String, rejected: String?,
                        registryMessage: String?) async throws(AttemptFailure) -> String {
        if challenge.scheme == "basic" {
            guard let (username, password) = basicCredentials else {
                throw AttemptFailure(.init(.unauthenticated, "registry \(host) requires a username and password for \(repository) and none were given" + Self.says(registryMessage)))
            }
            let header = Self.basicHeader(username, password)
            if header == rejected { throw AttemptFailure(refused(repository: repository, registryMessage: registryMessage)) }
            return header
        }
        guard let realm = challenge["realm"], realm.lowercased().hasPrefix("https://") || realm.lowercased().hasPrefix("http://") else {
            throw AttemptFailure(.init(.unauthenticated, "registry \(host) sent a Bearer challenge without a usable realm URL"))
        }
        let key = TokenKey(realm: realm, service: challenge["service"] ?? "", scope: challenge["scope"] ?? "repository:\(repository):pull")
        let now = ContinuousClock.now
        if let cached = state.withLock({ $0.tokens[key] }), cached.expires > now, "Bearer " + cached.value != rejected {
            return "Bearer " + cached.value
        }
        if let rejected {
            state.withLock { state in
                if let cached = state.tokens[key], "Bearer " + cached.value == rejected { state.tokens[key] = nil }
            }
        }
        let token = try await fetchToken(key, endpoint: endpoint, repository: repository)
        state.withLock { state in
            let now = ContinuousClock.now
            state.tokens = state.tokens.filter { $0.value.expires > now }
            state.tokens[key] = token
        }
        return "Bearer " + token.value
    }

    /// The error for a 401 that came back although credentials (or a fresh token) were sent.
    func refused(repository: String, registryMessage: String?) -> FascoError {
        let who: String
        if !credentials.registryToken.isEmpty {
            who = "the registry token"
        } else if let (username, _) = basicCredentials {
            who = "the credentials of user \"\(username)\""
        } else if !credentials.identityToken.isEmpty {
            who = "the identity token"
        } else {
            who = "anonymous access"
        }
        return FascoError(.unauthenticated, "registry \(host) refused \(who) for \(repository) (HTTP 401)" + Self.says(registryMessage))
    }

    static func says(_ message: String?) -> String {
        guard let message, !message.isEmpty else { return "" }
        return "; registry says: \(message)"
    }

    // MARK: Token service

    private struct TokenResponse: Decodable {
        var token: String?
        var access_token: String?
        var expires_in: Int?
    }

    /// GET (or, with an identity token, the OAuth2 POST) of the realm.
    private func fetchToken(_ key: TokenKey, endpoint: RegistryEndpoint, repository: String) async throws(AttemptFailure) -> Token {
        // The realm's host may be the registry's own (a private registry with its own
        // token service): then it gets the endpoint's TLS settings; else the system's.
        let tls = RegistryEndpoint.authority(of: key.realm) == endpoint.authority ? endpoint.tls : TLSOptions()
        var query: [(String, String)] = []
        if !key.service.isEmpty { query.append(("service", key.service)) }
        query.append(("scope", key.scope))

        var response: HTTPResponse
        if !credentials.identityToken.isEmpty {
            var form = query
            form.append(("grant_type", "refresh_token"))
            form.append(("refresh_token", credentials.identityToken))
            form.append(("client_id", "fasco"))
            var headers = HTTPHeaders()
            headers.add("Content-Type", "application/x-www-form-urlencoded")
            let request = HTTPRequest(.post, url: key.realm, headers: headers, body: Array(Self.formEncode(form).utf8),
                                      tls: tls, timeout: .seconds(60))
            response = try await send(request)
            if response.status == 404 || response.status == 405 {
                // Token services without OAuth2: the identity token as a Basic password.
                let username = credentials.username.isEmpty ? "<token>" : credentials.username
                response = try await send(tokenGet(key.realm, query, basic: (username, credentials.identityToken), tls: tls))
            }
        } else {
            if let (username, _) = basicCredentials, !username.isEmpty { query.append(("account", username)) }
            response = try await send(tokenGet(key.realm, query, basic: basicCredentials, tls: tls))
        }

        switch response.status {
        case 200..<300:
            break
        case 401, 403:
            let who = basicCredentials.map { "the credentials of user \"\($0.username)\"" }
                ?? (credentials.identityToken.isEmpty ? "anonymous access" : "the identity token")
            throw AttemptFailure(.init(.unauthenticated, "the token service \(key.realm) of registry \(host) refused \(who) for \(repository) (HTTP \(response.status))"
                + Self.says(RegistryErrorBody.message(response.body))))
        case 429, 500...:
            throw AttemptFailure(.init(.unavailable, "the token service \(key.realm) of registry \(host) answered HTTP \(response.status)"
                + Self.says(RegistryErrorBody.message(response.body))),
                retryable: true, retryAfter: RegistryClient.retryAfter(response.headers))
        default:
            throw AttemptFailure(.init(.unauthenticated, "the token service \(key.realm) of registry \(host) answered HTTP \(response.status)"
                + Self.says(RegistryErrorBody.message(response.body))))
        }
        let decoded: TokenResponse
        do {
            decoded = try JSONDecoder().decode(TokenResponse.self, from: Data(response.body))
        } catch {
            throw AttemptFailure(.init(.unauthenticated, "the token service \(key.realm) of registry \(host) sent an unreadable answer: \(error)"))
        }
        guard let value = [decoded.token, decoded.access_token].compactMap({ $0 }).first(where: { !$0.isEmpty }),
              value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw AttemptFailure(.init(.unauthenticated, "the token service \(key.realm) of registry \(host) sent no usable token"))
        }
        // expires_in defaults to 60 s; renew a little early.
        let lifetime = max(1, decoded.expires_in ?? 60)
        let margin = min(10, lifetime / 10)
        return Token(value: value, expires: .now + .seconds(lifetime - margin))
    }

    private func tokenGet(_ realm: String, _ query: [(String, String)], basic: (username: String, password: String)?,
                          tls: TLSOptions) -> HTTPRequest {
        var headers = HTTPHeaders()
        if let basic { headers.add("Authorization", Self.basicHeader(basic.username, basic.password)) }
        let url = realm + (realm.contains("?") ? "&" : "?") + Self.formEncode(query)
        return HTTPRequest(.get, url: url, headers: headers, tls: tls, timeout: .seconds(60))
    }

    private func send(_ request: HTTPRequest) async throws(AttemptFailure) -> HTTPResponse {
        do throws(FascoError) {
            return try await http.send(request, maxBodySize: 1 << 20)
        } catch {
            var error = error
            error.message = "fetching a token for registry \(host): " + error.message
            guard let transport = error.transportError else { throw AttemptFailure(error) }
            throw AttemptFailure(error, retryable: transport.isRetryable)
        }
    }

    /// application/x-www-form-urlencoded, also used for query strings.
    static func formEncode(_ pairs: [(String, String)]) -> String {
        pairs.map { percentEncode($0.0) + "=" + percentEncode($0.1) }.joined(separator: "&")
    }

    static func percentEncode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                result.unicodeScalars.append("%")
                result.unicodeScalars.append(hex[Int(byte >> 4)])
                result.unicodeScalars.append(hex[Int(byte & 0x0f)])
            }
        }
        return result
    }
}

/// The error body of the distribution API: `{"errors":[{"code":…,"message":…,"detail":…}]}`.
enum RegistryErrorBody {
    private struct Body: Decodable {
        struct Entry: Decodable {
            var code: String?
            var message: String?
        }
        var errors: [Entry]?
        // Token services (OAuth2 style).
        var error: String?
        var error_description: String?
        var details: String?
    }

    /// The registry's own words, for error messages; nil when the body says nothing usable.
    static func message(_ body: [UInt8]) -> String? {
        guard !body.isEmpty else { return nil }
        // A body that is not the registry's JSON error document is tried as plain text below.
        if let decoded = try? JSONDecoder().decode(Body.self, from: Data(body)) {
            let entries = (decoded.errors ?? []).compactMap { entry -> String? in
                switch (entry.message, entry.code) {
                case (let message?, let code?) where !message.isEmpty: "\(message) (\(code))"
                case (let message?, nil) where !message.isEmpty: message
                case (_, let code?): code
                default: nil
                }
            }
            if !entries.isEmpty { return clip(entries.joined(separator: "; ")) }
            if let text = decoded.error_description ?? decoded.details ?? decoded.error, !text.isEmpty { return clip(text) }
        }
        // Plain text from a proxy or a stub: keep it if it is short, printable text.
        let text = String(decoding: body.prefix(300), as: UTF8.self).httpTrimmed
        guard !text.isEmpty, !text.hasPrefix("<"), text.unicodeScalars.allSatisfy({ $0.value >= 0x20 || $0 == "\n" }) else { return nil }
        return clip(text.split(separator: "\n").joined(separator: " "))
    }

    private static func clip(_ text: String) -> String {
        text.count > 300 ? String(text.prefix(300)) + "…" : text
    }
}
