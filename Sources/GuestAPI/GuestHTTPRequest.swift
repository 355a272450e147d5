/// One HTTP/1.1 request to the guest API (RFC 9112), read whole: a bounded head and a body of
/// at most `Limits.maxBodyBytes` given by Content-Length (no chunked bodies). Parsing is strict
/// and never traps on input.
struct GuestHTTPRequest: Sendable, Equatable {
    var method: String
    /// The path, percent-encoding kept (routes are plain ASCII).
    var path: String
    /// The raw query (after `?`), "" when there is none.
    var query: String
    /// Header fields in order, names lowercased.
    var fields: [Field]
    var body: [UInt8]

    struct Field: Sendable, Equatable {
        var name: String
        var value: String
    }

    /// Why a request cannot be served, with the status it gets.
    struct Failure: Error, Sendable, Equatable {
        var status: Int
        var reason: String
    }

    func first(_ name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    /// Where the head ends in `buffer` (the index after the blank line), nil when not yet complete.
    static func headEnd(in buffer: [UInt8]) -> Int? {
        guard buffer.count >= 4 else { return nil }
        for index in 0...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index + 4
        }
        return nil
    }

    private static let tokenCharacters = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)

    /// Parses a complete head (through its blank line); the body is read separately.
    static func parseHead(_ bytes: ArraySlice<UInt8>, maxFields: Int = 64) throws(Failure) -> GuestHTTPRequest {
        guard bytes.allSatisfy({ $0 == 9 || $0 == 10 || $0 == 13 || ($0 >= 32 && $0 < 127) }) else {
            throw Failure(status: 400, reason: "non-ASCII or control bytes in the request head")
        }
        var lines = bytes.split(separator: 10, omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == 13 ? line.dropLast() : line, as: UTF8.self)
        }
        guard lines.count >= 3, lines[lines.count - 1] == "", lines[lines.count - 2] == "" else {
            throw Failure(status: 400, reason: "the request head does not end with an empty line")
        }
        lines.removeLast(2)
        let parts = lines[0].split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[1].hasPrefix("/"), parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0" else {
            throw Failure(status: 400, reason: "bad request line \(String(lines[0].prefix(120)).debugDescription)")
        }
        guard parts[0].utf8.allSatisfy({ tokenCharacters.contains($0) }) else { throw Failure(status: 400, reason: "bad method") }
        var fields: [Field] = []
        for line in lines.dropFirst() {
            guard fields.count < maxFields else { throw Failure(status: 431, reason: "more than \(maxFields) header fields") }
            guard let colon = line.firstIndex(of: ":") else { throw Failure(status: 400, reason: "a header line without a colon") }
            let name = line[..<colon]
            guard !name.isEmpty, name.utf8.allSatisfy({ tokenCharacters.contains($0) }) else {
                throw Failure(status: 400, reason: "bad header name \(String(name.prefix(60)).debugDescription)")
            }
            fields.append(Field(name: name.lowercased(), value: trimmed(line[line.index(after: colon)...])))
        }
        let target = parts[1]
        let path = target.prefix { $0 != "?" }
        let query = target.count > path.count ? String(target.dropFirst(path.count + 1)) : ""
        return GuestHTTPRequest(method: String(parts[0]), path: String(path), query: query, fields: fields, body: [])
    }

    /// The body length the head announces (0 without Content-Length); chunked bodies are refused.
    func contentLength(limit: Int) throws(Failure) -> Int {
        if fields.contains(where: { $0.name == "transfer-encoding" }) {
            throw Failure(status: 400, reason: "Transfer-Encoding is not supported: send the body with Content-Length")
        }
        let lengths = fields.filter { $0.name == "content-length" }.map(\.value)
        guard let text = lengths.first else { return 0 }
        guard lengths.allSatisfy({ $0 == text }), !text.isEmpty, text.count <= 12, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let length = Int(text) else {
            throw Failure(status: 400, reason: "bad Content-Length")
        }
        guard length <= limit else { throw Failure(status: 413, reason: "the body is larger than \(limit) bytes") }
        return length
    }

    /// The query's parameters in order, `+` and percent-escapes decoded (form encoding, as
    /// api-server-rest's query parser reads them); nil when an escape is malformed.
    static func parameters(_ query: String) -> [(name: String, value: String)]? {
        var result: [(String, String)] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = formDecode(parts[0]) else { return nil }
            guard let value = parts.count > 1 ? formDecode(parts[1]) : "" else { return nil }
            result.append((name, value))
        }
        return result
    }

    /// `+` to space and `%XX` to its byte; the bytes must be UTF-8.
    static func formDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(32)
            case UInt8(ascii: "%"):
                guard iterator.count >= 2, let high = hexValue(iterator[iterator.startIndex]),
                      let low = hexValue(iterator[iterator.startIndex + 1]) else { return nil }
                bytes.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: byte - 48
        case 65...70: byte - 55
        case 97...102: byte - 87
        default: nil
        }
    }

    private static func trimmed(_ text: Substring) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(text[first...last])
    }
}
