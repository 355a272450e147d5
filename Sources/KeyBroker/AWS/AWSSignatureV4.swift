import Crypto
import FascoCore

/// AWS Signature Version 4 for one HTTP request (AWS's "Create a signed AWS API request"):
///
/// 1. the canonical request: method, the URI-encoded path, the sorted URI-encoded query, the
///    signed headers (lowercase names, values trimmed with runs of spaces made one, sorted, each
///    `name:value\n`), their names joined by `;`, and the hex SHA-256 of the body;
/// 2. the string to sign: `AWS4-HMAC-SHA256`, the request time (`X-Amz-Date`), the scope
///    `<yyyymmdd>/<region>/<service>/aws4_request` and the hex SHA-256 of the canonical request,
///    one per line;
/// 3. the signing key, HMAC-SHA256 chained from `AWS4<secret>` over the date, region, service and
///    `aws4_request`; the signature is the hex HMAC of the string to sign with it.
///
/// Written here because no served Swift package signs AWS requests without pulling in a whole
/// AWS SDK; checked against AWS's published signature test suite (AWSSignatureV4Tests).
public enum AWSSignatureV4 {
    public struct Request: Sendable {
        public var method: String
        /// The path, not yet encoded ("/" for AWS's JSON protocols).
        public var path: String
        public var query: [(name: String, value: String)]
        /// Every header to sign, `Host` and `X-Amz-Date` among them.
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public init(method: String, path: String = "/", query: [(name: String, value: String)] = [],
                    headers: [(name: String, value: String)], body: [UInt8]) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.body = body
        }
    }

    public struct Scope: Sendable, Equatable {
        /// `yyyymmdd`, the first eight characters of the request's `X-Amz-Date`.
        public var date: String
        public var region: String
        public var service: String

        public init(date: String, region: String, service: String) {
            self.date = date
            self.region = region
            self.service = service
        }

        public var text: String { "\(date)/\(region)/\(service)/aws4_request" }
    }

    /// The `Authorization` header value for `request`, made at `amzDate` (`yyyymmddThhmmssZ`).
    public static func authorization(_ request: Request, accessKeyID: String, secretAccessKey: String,
                                     region: String, service: String, amzDate: String) -> String {
        let scope = Scope(date: String(amzDate.prefix(8)), region: region, service: service)
        let (canonical, signedHeaders) = canonicalRequest(request)
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope.text, Hex.encode(SHA256.hash(data: Array(canonical.utf8)))]
            .joined(separator: "\n")
        let key = signingKey(secretAccessKey: secretAccessKey, scope: scope)
        let signature = Hex.encode(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: SymmetricKey(data: key)))
        return "AWS4-HMAC-SHA256 Credential=\(accessKeyID)/\(scope.text), SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    /// The canonical request and its signed header names (`host;x-amz-date`).
    static func canonicalRequest(_ request: Request) -> (text: String, signedHeaders: String) {
        var headers: [String: String] = [:]
        for (name, value) in request.headers {
            let name = name.lowercased()
            let value = collapseSpaces(value)
            headers[name] = headers[name].map { $0 + "," + value } ?? value
        }
        let names = headers.keys.sorted()
        let signedHeaders = names.joined(separator: ";")
        let pairs: [(String, String)] = request.query.map { (uriEncode($0.name), uriEncode($0.value)) }
        let sortedPairs = pairs.sorted { (a: (String, String), b: (String, String)) -> Bool in a.0 == b.0 ? a.1 < b.1 : a.0 < b.0 }
        let query = sortedPairs.map { (pair: (String, String)) -> String in pair.0 + "=" + pair.1 }.joined(separator: "&")
        let path = request.path.split(separator: "/", omittingEmptySubsequences: false).map { uriEncode(String($0)) }.joined(separator: "/")
        let lines = [
            request.method, path.isEmpty ? "/" : path, query,
            names.map { "\($0):\(headers[$0] ?? "")\n" }.joined(), signedHeaders,
            Hex.encode(SHA256.hash(data: request.body)),
        ]
        return (lines.joined(separator: "\n"), signedHeaders)
    }

    static func signingKey(secretAccessKey: String, scope: Scope) -> [UInt8] {
        var key = Array(("AWS4" + secretAccessKey).utf8)
        for part in [scope.date, scope.region, scope.service, "aws4_request"] {
            key = Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: SymmetricKey(data: key)))
        }
        return key
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters, as SigV4 asks.
    static func uriEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                out += "%" + Hex.encode([byte]).uppercased()
            }
        }
        return out
    }

    /// The value trimmed, with each run of spaces made one.
    static func collapseSpaces(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    /// `yyyymmddThhmmssZ` (UTC) for seconds since the epoch.
    public static func amzDate(secondsSinceEpoch seconds: Int64) -> String {
        UTCTime(secondsSinceEpoch: seconds).compact
    }
}
