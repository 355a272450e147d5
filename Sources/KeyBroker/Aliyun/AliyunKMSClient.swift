import CImageLibs
import Crypto
import FascoCore
import FoundationEssentials
import ImageStore
import _CryptoExtras

/// An Alibaba Cloud KMS client key as CoCo's confidential-data-hub reads it for its `aliyun`
/// driver with `client_type = client_key` (guest-components `docs/kms-providers/alibaba.md`):
/// `clientKey_<id>.json` `{"KeyId", "PrivateKeyData"}` (a PKCS#12 file in base64, holding an
/// RSA key) and `password_<id>.json` (the PKCS#12 password, trailing whitespace dropped, or
/// `{"ClientKeyPassword": ...}`).
public struct AliyunClientKey: Sendable {
    public let id: String
    let key: _RSA.Signing.PrivateKey

    /// INVALID_ARGUMENT, without quoting either file, when they are not such a pair.
    public init(json: [UInt8], password: [UInt8]) throws(FascoError) {
        struct File: Decodable { var KeyId: String; var PrivateKeyData: String }
        guard let file = try? JSONDecoder().decode(File.self, from: Data(json)), AliyunKMSClient.isClientKeyID(file.KeyId),
              let pkcs12 = Data(base64Encoded: file.PrivateKeyData) else {
            throw .invalidArgument("it is not an Alibaba Cloud client key {\"KeyId\", \"PrivateKeyData\": base64 PKCS#12}")
        }
        // The file's text, trailing whitespace dropped (CoCo's reading), or the ClientKeyPassword
        // of a JSON document (the form of guest-components' example password files).
        struct Wrapped: Decodable { var ClientKeyPassword: String }
        var text = (try? JSONDecoder().decode(Wrapped.self, from: Data(password)))?.ClientKeyPassword ?? String(decoding: password, as: UTF8.self)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        let der = Array(pkcs12)
        var out: UnsafeMutablePointer<UInt8>?
        let length = text.withCString { password in
            der.withUnsafeBufferPointer { fasco_pkcs12_private_key($0.baseAddress, $0.count, password, &out) }
        }
        guard length > 0, let out else { throw .invalidArgument("its PKCS#12 private key does not open with the password") }
        let pkcs8 = Array(UnsafeBufferPointer(start: out, count: Int(length)))
        fasco_openssl_free(out)
        guard let key = try? _RSA.Signing.PrivateKey(derRepresentation: pkcs8) else {
            throw .invalidArgument("its private key is not an RSA key of 2048 bits or more")
        }
        self.id = file.KeyId
        self.key = key
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256, in standard base64.
    func sign(_ text: String) throws(FascoError) -> String {
        guard let signature = try? key.signature(for: Array(text.utf8), padding: .insecurePKCS1v1_5) else {
            throw .internal("cannot sign with the Alibaba Cloud client key \(id)")
        }
        return Base64URL.encodeStandard(signature.rawRepresentation)
    }
}

/// A client of an Alibaba Cloud KMS instance's API (`dkms-gcs-0.2`, as CoCo's aliyun driver
/// speaks it): `POST /` over HTTPS to `<instance>.cryptoservice.kms.aliyuncs.com` (trusting the
/// instance's CA, which the broker releases with the client key), a protobuf body, and an
/// `Authorization: Bearer` signature by the client key over the method, the body's SHA-256, the
/// content type, the date and the `x-kms-` headers. Decrypt and GetSecretValue; a time limit,
/// three attempts when the instance cannot be reached, answers 5xx or throttles; failures name
/// the instance, the API and the KMS's error code and message.
public struct AliyunKMSClient: Sendable {
    public static let apiVersion = "dkms-gcs-0.2"
    public static let signatureMethod = "RSA_PKCS1_SHA_256"
    static let contentType = "application/x-protobuf"

    public let instanceID: String
    public let clientKey: AliyunClientKey
    /// The base URL: the instance's own unless fasco.toml `[kms.aliyun] endpoint` says otherwise.
    public let endpoint: String
    public let caFile: String?
    let http: HTTPClient
    public var attempts = 3
    public var requestTimeout: Duration = .seconds(10)
    public var retryDelay: Duration = .milliseconds(250)
    var now: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }

    public init(instanceID: String, clientKey: AliyunClientKey, endpoint: String?, caFile: String?,
                http: HTTPClient = KeyBrokerClient.sharedHTTP) throws(FascoError) {
        guard Self.isInstanceID(instanceID) else {
            throw .invalidArgument("kms_instance_id \(instanceID.prefix(64).debugDescription) is not a KMS instance ID (letters, digits and '-')")
        }
        self.instanceID = instanceID
        self.clientKey = clientKey
        var base = endpoint.flatMap { $0.isEmpty ? nil : $0 } ?? "https://\(instanceID).cryptoservice.kms.aliyuncs.com"
        while base.hasSuffix("/") { base.removeLast() }
        self.endpoint = base
        self.caFile = caFile
        self.http = http
    }

    /// An instance ID becomes part of a host name and of credential file names.
    static func isInstanceID(_ text: String) -> Bool {
        (1...128).contains(text.utf8.count) && !text.hasPrefix("-")
            && text.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }
    }

    /// A client key ID becomes part of credential file names and a header.
    static func isClientKeyID(_ text: String) -> Bool {
        (1...128).contains(text.utf8.count) && text != "." && text != ".."
            && text.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x30 && $0 <= 0x39)
                || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    /// Decrypt (AES_GCM): the plaintext of a ciphertext blob made under `keyID` with `iv`.
    public func decrypt(ciphertext: [UInt8], keyID: String, iv: [UInt8]) async throws(FascoError) -> [UInt8] {
        let body = DKMSWire.bytes(1, ciphertext) + DKMSWire.string(2, keyID) + DKMSWire.string(3, "AES_GCM") + DKMSWire.bytes(5, iv)
        let answer = try await call("Decrypt", body: body)
        do throws(FascoError) {
            return try DKMSWire.Message(answer.body).bytes(2)
        } catch {
            throw .unavailable("\(answer.what): the answer is not a DecryptResponse: \(error.message)")
        }
    }

    /// GetSecretValue: the secret's data.
    public func secretValue(name: String, versionStage: String?, versionID: String?) async throws(FascoError) -> [UInt8] {
        let body = DKMSWire.string(1, name) + DKMSWire.string(2, versionStage ?? "") + DKMSWire.string(3, versionID ?? "")
            + DKMSWire.integer(4, 1)
        let answer = try await call("GetSecretValue", body: body)
        do throws(FascoError) {
            return try DKMSWire.Message(answer.body).bytes(3)
        } catch {
            throw .unavailable("\(answer.what): the answer is not a GetSecretValueResponse: \(error.message)")
        }
    }

    func call(_ api: String, body: [UInt8]) async throws(FascoError) -> (body: [UInt8], what: String) {
        let what = "Alibaba Cloud KMS \(endpoint) \(api)"
        let response = try await RetryingSend(http: http, attempts: attempts, retryDelay: retryDelay).send(
            what, make: { () throws(FascoError) -> HTTPRequest in try signedRequest(api, body: body) },
            problem: { Self.problem($0, what: what) })
        return (response.body, what)
    }

    /// The request with its headers and signature, made now (the date is signed).
    func signedRequest(_ api: String, body: [UInt8]) throws(FascoError) -> HTTPRequest {
        let date = UTCTime(secondsSinceEpoch: now()).imfFixdate
        let digest = Hex.encode(SHA256.hash(data: body)).uppercased()
        let kms: [(String, String)] = [
            ("x-kms-acccesskeyid", clientKey.id), ("x-kms-apiname", api),
            ("x-kms-apiversion", Self.apiVersion), ("x-kms-signaturemethod", Self.signatureMethod),
        ]
        let stringToSign = "POST\n\(digest)\n\(Self.contentType)\n\(date)\n" + Self.canonicalHeaders(kms) + "/"
        var headers = HTTPHeaders()
        headers.add("Accept", Self.contentType)
        headers.add("Content-Type", Self.contentType)
        headers.add("date", date)
        for (name, value) in kms { headers.add(name, value) }
        headers.add("Content-Sha256", digest)
        headers.add("Authorization", "Bearer " + (try clientKey.sign(stringToSign)))
        return HTTPRequest(.post, url: endpoint + "/", headers: headers, body: body, tls: TLSOptions(caFile: caFile),
                           followRedirects: false, timeout: requestTimeout)
    }

    /// The `x-kms-` headers, lowercase names sorted, each `name:value\n` with the value trimmed.
    static func canonicalHeaders(_ headers: [(String, String)]) -> String {
        headers.map { ($0.0.lowercased(), $0.1.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")) }
            .filter { $0.0.hasPrefix("x-kms-") }
            .sorted { $0.0 < $1.0 }
            .map { "\($0.0):\($0.1)\n" }.joined()
    }

    /// The error for an answer that is not a success (the KMS's protobuf `Error`: StatusCode,
    /// ErrorCode, ErrorMessage, RequestId) and whether another attempt may succeed.
    static func problem(_ response: HTTPResponse, what: String) -> (FascoError, Bool) {
        var text = "HTTP \(response.status)"
        var code = ""
        if let error = try? DKMSWire.Message(response.body) {
            code = RemoteText.line(error.string(2), limit: 100)
            if !code.isEmpty { text += " \(code)" }
            let message = error.string(3)
            if !message.isEmpty { text += ": " + RemoteText.line(message, limit: 500) }
            let request = error.string(4)
            if !request.isEmpty { text += " (request \(RemoteText.line(request, limit: 64)))" }
        }
        let retryable = response.status >= 500 || response.status == 429 || code.contains("Throttling")
        let status: FascoError.Code = retryable ? .unavailable : response.status == 403 ? .permissionDenied : .failedPrecondition
        return (FascoError(status, "\(what): \(text)"), retryable)
    }
}
