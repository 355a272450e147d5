import FascoCore
import FoundationEssentials
import ImageStore

/// A client of Trustee's key broker protocol, RCAR 0.4.0, for one TEE of type `cca` (trustee
/// `kbs/src/attestation/backend.rs`; guest-components `kbs_protocol/src/client/rcar_client.rs`):
///
/// 1. `POST /kbs/v0/auth` `{"version": "0.4.0", "tee": "cca", "extra-params": {}}` gives a nonce
///    and the session cookie `kbs-session-id`;
/// 2. the realm's evidence for the report data that binds the nonce and a fresh TEE key
///    (`ReportDataBinding`), sent with `POST /kbs/v0/attest`, gives a token;
/// 3. `GET /kbs/v0/resource/<repo>/<type>/<tag>` gives the resource as a JWE to the TEE key.
///
/// Requests have a time limit and are retried (three attempts in all) when the broker cannot be
/// reached or answers 502, 503 or 504. Every failure names the broker, the step and, when the
/// broker answered with one, its RFC 7807 problem type; the code follows the broker's status
/// (401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 NOT_FOUND, unreachable or 5xx UNAVAILABLE).
public struct KeyBrokerClient: Sendable {
    public static let protocolVersion = "0.4.0"
    public static let teeType = "cca"

    public let endpoint: BrokerEndpoint
    let http: HTTPClient
    public var attempts = 3
    public var requestTimeout: Duration = .seconds(10)
    public var retryDelay: Duration = .milliseconds(250)
    /// The kind of each session's fresh TEE key (EC P-256, CoCo's default, unless told).
    public var teeKey: TEEKeyPair.Kind = .ec

    public init(endpoint: BrokerEndpoint, http: HTTPClient = KeyBrokerClient.sharedHTTP) {
        self.endpoint = endpoint
        self.http = http
    }

    /// A client that gives up connecting after 5 s (the broker is usually near).
    public static let sharedHTTP: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectTimeout = .seconds(5)
        configuration.lowSpeedTime = .seconds(10)
        configuration.maxRedirects = 0
        configuration.userAgent = "fasco-kbs-client"
        return HTTPClient(configuration: configuration)
    }()

    /// RCAR's handshake and attestation for a realm whose evidence `evidence` makes (a CCA token
    /// whose challenge is the given report data), with a fresh TEE key.
    public func attest(initData: String?, evidence: @Sendable ([UInt8]) async throws(FascoError) -> [UInt8]) async throws(FascoError) -> BrokerSession {
        let key = try TEEKeyPair.make(teeKey)
        let auth = JSONText.object([
            ("version", .string(Self.protocolVersion)), ("tee", .string(Self.teeType)), ("extra-params", .object([])),
        ])
        let challenge = try await send(.post, "auth", step: "auth (RCAR request)", body: auth.canonical, cookie: nil, token: nil)
        struct Challenge: Decodable { var nonce: String }
        let nonce: String
        do { nonce = try JSONDecoder().decode(Challenge.self, from: Data(challenge.body)).nonce } catch {
            throw .unavailable("key broker \(endpoint): auth (RCAR request): the answer has no nonce")
        }
        let cookie = Self.sessionCookie(challenge.headers)
        let publicKey = key.publicJWK
        let reportData = ReportDataBinding.realmChallenge(nonce: nonce, teePublicKey: publicKey)
        let token: [UInt8]
        do throws(FascoError) { token = try await evidence(reportData) } catch {
            throw FascoError(error.code, "key broker \(endpoint): attest: the realm's evidence: \(error.message)")
        }
        let primary = JSONText.object([("token", .array(token.map { .integer(Int64($0)) }))])
        var members: [(String, JSONText)] = [
            ("runtime-data", .object([("nonce", .string(nonce)), ("tee-pubkey", publicKey)])),
            ("tee-evidence", .object([("primary_evidence", primary), ("additional_evidence", .string(""))])),
        ]
        if let initData { members.append(("init-data", .object([("format", .string("toml")), ("body", .string(initData))]))) }
        let attested = try await send(.post, "attest", step: "attest (RCAR attestation)", body: JSONText.object(members).canonical,
                                      cookie: cookie, token: nil)
        struct Attested: Decodable { var token: String }
        let jwt: String
        do { jwt = try JSONDecoder().decode(Attested.self, from: Data(attested.body)).token } catch {
            throw .unavailable("key broker \(endpoint): attest (RCAR attestation): the answer has no token")
        }
        return BrokerSession(endpoint: endpoint, key: key, cookie: Self.sessionCookie(attested.headers) ?? cookie, token: jwt)
    }

    /// The plaintext of a resource released to the session's realm.
    public func resource(_ resource: ResourceURI, session: BrokerSession) async throws(FascoError) -> [UInt8] {
        let step = "get resource \(resource)"
        let response = try await send(.get, "resource/" + resource.path, step: step, body: nil, cookie: session.cookie, token: session.token)
        do throws(FascoError) {
            return try JWEDecryption.decrypt(response.body, with: session.key)
        } catch {
            throw .failedPrecondition("key broker \(endpoint): \(step): \(error.message)")
        }
    }

    // MARK: HTTP

    func send(_ method: HTTPRequest.Method, _ path: String, step: String, body: String?, cookie: String?, token: String?) async throws(FascoError) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add("Accept", "application/json")
        if body != nil { headers.add("Content-Type", "application/json") }
        if let cookie { headers.add("Cookie", cookie) }
        if let token { headers.add("Authorization", "Bearer " + token) }
        let request = HTTPRequest(method, url: endpoint.url + "/kbs/v0/" + path, headers: headers, body: body.map { Array($0.utf8) },
                                  tls: TLSOptions(caFile: endpoint.caFile), followRedirects: false, timeout: requestTimeout)
        return try await RetryingSend(http: http, attempts: attempts, retryDelay: retryDelay).send(
            "key broker \(endpoint): \(step)", make: { () throws(FascoError) -> HTTPRequest in request },
            problem: { (problem($0, step: step), [502, 503, 504].contains($0.status)) })
    }

    /// The error for a broker's answer that is not a success: its status and RFC 7807 problem.
    func problem(_ response: HTTPResponse, step: String) -> FascoError {
        struct Problem: Decodable { var type: String?; var title: String?; var detail: String? }
        var text = "HTTP \(response.status)"
        if let problem = try? JSONDecoder().decode(Problem.self, from: Data(response.body)) {
            if let type = problem.type { text += ", problem type \(RemoteText.line(type, limit: 200))" }
            if let detail = problem.detail ?? problem.title { text += ": \(RemoteText.line(detail, limit: 500))" }
        } else if !response.body.isEmpty {
            text += ": " + RemoteText.line(String(decoding: response.body.prefix(300), as: UTF8.self), limit: 300)
        }
        let code: FascoError.Code
        switch response.status {
        case 401: code = .unauthenticated
        case 403: code = .permissionDenied
        case 404: code = .notFound
        case 400..<500: code = .failedPrecondition
        default: code = .unavailable
        }
        return FascoError(code, "key broker \(endpoint): \(step): \(text)")
    }

    /// `kbs-session-id=<value>` from the response's Set-Cookie fields.
    static func sessionCookie(_ headers: HTTPHeaders) -> String? {
        for field in headers.values(for: "Set-Cookie") {
            let pair = String((field.split(separator: ";", maxSplits: 1).first ?? "").drop(while: { $0 == " " }))
            if pair.hasPrefix("kbs-session-id=") { return pair }
        }
        return nil
    }
}
