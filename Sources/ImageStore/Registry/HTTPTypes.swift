/// HTTP header fields in order, looked up case-insensitively (RFC 9110 §5.1).
public struct HTTPHeaders: Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public typealias Field = (name: String, value: String)
    public private(set) var fields: [Field] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { (name: $0.0, value: $0.1) }
    }

    /// The first value of `name`.
    public subscript(name: String) -> String? {
        fields.first { Self.sameName($0.name, name) }?.value
    }

    /// Every value of `name`, in order (e.g. several `WWW-Authenticate` fields).
    public func values(for name: String) -> [String] {
        fields.filter { Self.sameName($0.name, name) }.map(\.value)
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    public mutating func add(_ name: String, _ value: String) {
        fields.append((name: name, value: value))
    }

    /// Replaces every value of `name` with `value`.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    public mutating func remove(_ name: String) {
        fields.removeAll { Self.sameName($0.name, name) }
    }

    /// Appends a folded continuation line to the last field.
    mutating func extendLastValue(with text: String) {
        guard let last = fields.popLast() else { return }
        fields.append((name: last.name, value: last.value + " " + text))
    }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    public var description: String {
        fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
    }

    /// ASCII case-insensitive comparison, as header names are tokens.
    static func sameName(_ a: String, _ b: String) -> Bool {
        let a = a.utf8, b = b.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { x, y in
            x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7a)
        }
    }

    /// No CR, LF or NUL: a header built from remote data (a token) must not smuggle in another.
    static func isSafe(_ text: String) -> Bool {
        !text.utf8.contains { $0 == 0x0d || $0 == 0x0a || $0 == 0 }
    }
}

/// Server verification for one registry or URL.
public struct TLSOptions: Sendable, Hashable {
    /// A PEM bundle of CAs to trust (libcurl's CA bundle is replaced by it; its CA
    /// directory, /etc/ssl/certs on Debian, is still consulted).
    public var caFile: String?
    /// Accept any certificate (self-signed test registries). Never the default.
    public var insecureSkipVerify: Bool

    public init(caFile: String? = nil, insecureSkipVerify: Bool = false) {
        self.caFile = caFile
        self.insecureSkipVerify = insecureSkipVerify
    }
}

public struct HTTPRequest: Sendable {
    public enum Method: String, Sendable {
        case get = "GET", head = "HEAD", post = "POST", put = "PUT", patch = "PATCH", delete = "DELETE"
    }

    public var method: Method
    /// An absolute http:// or https:// URL.
    public var url: String
    public var headers: HTTPHeaders
    public var body: [UInt8]?
    public var tls: TLSOptions
    /// Follow 3xx redirects (at most the client's `maxRedirects`). libcurl does not send an
    /// `Authorization` header to a host other than the one first asked (or on a change of
    /// port or scheme): registries redirect blob downloads to storage that signs its URLs.
    public var followRedirects: Bool
    /// A limit on the whole transfer; nil for none (blobs can take long, the low-speed
    /// limit still ends a stalled one).
    public var timeout: Duration?

    public init(_ method: Method = .get, url: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8]? = nil,
                tls: TLSOptions = TLSOptions(), followRedirects: Bool = true, timeout: Duration? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.tls = tls
        self.followRedirects = followRedirects
        self.timeout = timeout
    }

    /// "GET https://host/path", for messages (the query is left out: it may hold a signature).
    var summary: String {
        let path = url.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? url
        return "\(method.rawValue) \(path.prefix(500))"
    }
}

/// The final response's status line and headers (after any redirects were followed).
public struct HTTPResponseHead: Sendable {
    public let status: Int
    public let headers: HTTPHeaders

    public init(status: Int, headers: HTTPHeaders) {
        self.status = status
        self.headers = headers
    }

    public var isSuccess: Bool { (200..<300).contains(status) }

    /// Content-Length, when present and valid.
    public var contentLength: Int64? {
        headers["Content-Length"].flatMap { Int64($0.httpTrimmed) }.flatMap { $0 >= 0 ? $0 : nil }
    }
}

public struct HTTPResponse: Sendable {
    public let status: Int
    public let headers: HTTPHeaders
    public let body: [UInt8]

    public init(status: Int, headers: HTTPHeaders, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var isSuccess: Bool { (200..<300).contains(status) }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    var httpTrimmed: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
