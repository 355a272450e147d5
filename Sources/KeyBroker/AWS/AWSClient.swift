import FascoCore
import FoundationEssentials
import ImageStore

/// Static IAM credentials as CoCo's confidential-data-hub reads them for its `aws` provider
/// (guest-components `docs/kms-providers/aws.md`): a JSON document
/// `{"access_key_id", "secret_access_key", "session_token"}` (the token optional or null), which
/// the pod's key broker releases (initdata `cdh.toml` `[[credentials]]`).
public struct AWSCredential: Sendable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// From the credential file's bytes; INVALID_ARGUMENT (without its content) if it is not one.
    public init(json bytes: [UInt8]) throws(FascoError) {
        struct File: Decodable {
            var access_key_id: String
            var secret_access_key: String
            var session_token: String?
        }
        guard let file = try? JSONDecoder().decode(File.self, from: Data(bytes)) else {
            throw .invalidArgument("it is not an AWS credential document {\"access_key_id\", \"secret_access_key\", \"session_token\"}")
        }
        let safe = { (text: String) in !text.isEmpty && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f } }
        // An empty token is no token (static credentials).
        let token = file.session_token.flatMap { $0.isEmpty ? nil : $0 }
        guard safe(file.access_key_id), safe(file.secret_access_key), token.map(safe) ?? true else {
            throw .invalidArgument("its access key, secret or session token is empty or not printable ASCII")
        }
        self.init(accessKeyID: file.access_key_id, secretAccessKey: file.secret_access_key, sessionToken: token)
    }
}

/// Where AWS's services are reached (fasco.toml `[kms.aws]`): AWS's regional endpoints unless
/// an endpoint is configured (a VPC or FIPS endpoint, an AWS-compatible service).
public struct AWSEndpoints: Sendable, Equatable {
    /// Base URLs replacing `https://kms.<region>.amazonaws.com` and
    /// `https://secretsmanager.<region>.amazonaws.com`.
    public var kms: String?
    public var secretsManager: String?
    /// A PEM CA bundle trusted for them (besides the system's).
    public var caFile: String?

    public init(kms: String? = nil, secretsManager: String? = nil, caFile: String? = nil) {
        self.kms = kms
        self.secretsManager = secretsManager
        self.caFile = caFile
    }

    func url(_ service: AWSClient.Service, region: String) -> String {
        let configured = service == .kms ? kms : secretsManager
        if let configured, !configured.isEmpty {
            var url = configured
            while url.hasSuffix("/") { url.removeLast() }
            return url
        }
        return "https://\(service.rawValue).\(region).amazonaws.com"
    }
}

/// A client of AWS's JSON protocol (`POST /`, `Content-Type: application/x-amz-json-1.1`,
/// `X-Amz-Target: <service prefix>.<operation>`, SigV4-signed) for the two calls sealed secrets
/// need: KMS `Decrypt` and Secrets Manager `GetSecretValue`. Requests have a time limit and are
/// retried (three attempts in all) when the service cannot be reached, answers 5xx, or throttles.
/// Every failure names the service, its endpoint, the operation and AWS's error type and message.
public struct AWSClient: Sendable {
    public enum Service: String, Sendable {
        case kms
        case secretsManager = "secretsmanager"

        var name: String { self == .kms ? "AWS KMS" : "AWS Secrets Manager" }
        var targetPrefix: String { self == .kms ? "TrentService" : "secretsmanager" }
    }

    public let region: String
    public let credential: AWSCredential
    public let endpoints: AWSEndpoints
    let http: HTTPClient
    public var attempts = 3
    public var requestTimeout: Duration = .seconds(10)
    public var retryDelay: Duration = .milliseconds(250)
    /// The request time, seconds since the epoch (tests fix it).
    var now: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }

    /// INVALID_ARGUMENT unless `region` is an AWS region name (`us-east-1`): it becomes part of a host name.
    public init(region: String, credential: AWSCredential, endpoints: AWSEndpoints, http: HTTPClient = KeyBrokerClient.sharedHTTP) throws(FascoError) {
        guard Self.isRegion(region) else {
            throw .invalidArgument("region \(String(region.prefix(64)).debugDescription) is not an AWS region name (lowercase letters, digits and '-')")
        }
        self.region = region
        self.credential = credential
        self.endpoints = endpoints
        self.http = http
    }

    static func isRegion(_ text: String) -> Bool {
        (1...40).contains(text.utf8.count) && !text.hasPrefix("-") && !text.hasSuffix("-") && !text.contains("--")
            && text.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }
    }

    /// KMS `Decrypt`: the plaintext of a ciphertext blob made under `keyID` with `encryptionContext`.
    public func decrypt(ciphertext: [UInt8], keyID: String, encryptionContext: [String: String]) async throws(FascoError) -> [UInt8] {
        var members: [(String, JSONText)] = [("CiphertextBlob", .string(Base64URL.encodeStandard(ciphertext))), ("KeyId", .string(keyID))]
        if !encryptionContext.isEmpty {
            members.append(("EncryptionContext", .object(encryptionContext.map { ($0.key, .string($0.value)) })))
        }
        let answer = try await call(.kms, "Decrypt", body: .object(members))
        struct Decrypted: Decodable { var Plaintext: String }
        guard let decoded = try? JSONDecoder().decode(Decrypted.self, from: Data(answer.body)),
              let plaintext = Data(base64Encoded: decoded.Plaintext) else {
            throw .unavailable("\(answer.what): the answer has no base64 Plaintext")
        }
        return Array(plaintext)
    }

    /// Secrets Manager `GetSecretValue`: the secret's string (as UTF-8) or binary value.
    public func secretValue(id: String, versionID: String?, versionStage: String?) async throws(FascoError) -> [UInt8] {
        var members: [(String, JSONText)] = [("SecretId", .string(id))]
        if let versionID, !versionID.isEmpty { members.append(("VersionId", .string(versionID))) }
        if let versionStage, !versionStage.isEmpty { members.append(("VersionStage", .string(versionStage))) }
        let answer = try await call(.secretsManager, "GetSecretValue", body: .object(members))
        struct Value: Decodable { var SecretString: String?; var SecretBinary: String? }
        guard let value = try? JSONDecoder().decode(Value.self, from: Data(answer.body)) else {
            throw .unavailable("\(answer.what): the answer is not a secret value")
        }
        if let text = value.SecretString { return Array(text.utf8) }
        if let binary = value.SecretBinary, let bytes = Data(base64Encoded: binary) { return Array(bytes) }
        throw .unavailable("\(answer.what): the answer has neither SecretString nor base64 SecretBinary")
    }

    // MARK: The JSON protocol

    func call(_ service: Service, _ operation: String, body: JSONText) async throws(FascoError) -> (body: [UInt8], what: String) {
        let url = endpoints.url(service, region: region)
        let what = "\(service.name) \(url) \(operation)"
        guard let host = Self.host(of: url) else { throw .invalidArgument("\(what): the endpoint is not an http:// or https:// URL") }
        let payload = Array(body.canonical.utf8)
        let response = try await RetryingSend(http: http, attempts: attempts, retryDelay: retryDelay).send(
            what, make: { () throws(FascoError) -> HTTPRequest in signedRequest(service, operation, url: url, host: host, payload: payload) },
            problem: { Self.problem($0, what: what) })
        return (response.body, what)
    }

    func signedRequest(_ service: Service, _ operation: String, url: String, host: String, payload: [UInt8]) -> HTTPRequest {
        let amzDate = AWSSignatureV4.amzDate(secondsSinceEpoch: now())
        var signed: [(name: String, value: String)] = [
            ("Content-Type", "application/x-amz-json-1.1"), ("Host", host),
            ("X-Amz-Date", amzDate), ("X-Amz-Target", "\(service.targetPrefix).\(operation)"),
        ]
        if let token = credential.sessionToken { signed.append(("X-Amz-Security-Token", token)) }
        let authorization = AWSSignatureV4.authorization(
            AWSSignatureV4.Request(method: "POST", headers: signed, body: payload),
            accessKeyID: credential.accessKeyID, secretAccessKey: credential.secretAccessKey,
            region: region, service: service.rawValue, amzDate: amzDate)
        var headers = HTTPHeaders()
        for field in signed { headers.add(field.name, field.value) }
        headers.add("Authorization", authorization)
        headers.add("Accept", "application/json")
        return HTTPRequest(.post, url: url + "/", headers: headers, body: payload, tls: TLSOptions(caFile: endpoints.caFile),
                           followRedirects: false, timeout: requestTimeout)
    }

    /// `host` or `host:port` of an http(s) URL, as the request's Host header carries it.
    static func host(of url: String) -> String? {
        let rest: Substring
        if url.hasPrefix("https://") { rest = url.dropFirst(8) } else if url.hasPrefix("http://") { rest = url.dropFirst(7) } else { return nil }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        return String(authority)
    }

    /// The error for an answer that is not a success (AWS's JSON error: `__type`, `message`) and
    /// whether another attempt may succeed.
    static func problem(_ response: HTTPResponse, what: String) -> (FascoError, Bool) {
        struct Problem: Decodable { var __type: String?; var message: String?; var Message: String? }
        var type = response.headers["x-amzn-ErrorType"].map { String($0.prefix { $0 != ":" }) }
        var message: String?
        if let problem = try? JSONDecoder().decode(Problem.self, from: Data(response.body)) {
            type = problem.__type ?? type
            message = problem.message ?? problem.Message
        }
        // `com.amazonaws.kms#NotFoundException` names the type after the `#`.
        let name = type.map { RemoteText.line($0.split(separator: "#").last ?? Substring($0), limit: 100) }
        var text = "HTTP \(response.status)"
        if let name { text += " \(name)" }
        if let message { text += ": " + RemoteText.line(message, limit: 500) }
        let throttled = ["ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"].contains(name ?? "")
        let retryable = response.status >= 500 || throttled
        let code: FascoError.Code
        switch response.status {
        case _ where retryable: code = .unavailable
        case 403: code = .permissionDenied
        default: code = .failedPrecondition
        }
        return (FascoError(code, "\(what): \(text)"), retryable)
    }
}
