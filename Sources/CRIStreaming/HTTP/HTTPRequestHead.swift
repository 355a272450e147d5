/// The request line and headers of an HTTP/1.1 request (RFC 9112 section 2-5), as the
/// streaming server needs them: bounded, tolerant of repeated headers, strict on syntax.
struct HTTPRequestHead: Sendable, Equatable {
    var method: String
    /// The request target as sent (origin form: path and query).
    var target: String
    var version: String
    /// Header fields in order, names lowercased.
    var fields: [(name: String, value: String)]

    static func == (lhs: HTTPRequestHead, rhs: HTTPRequestHead) -> Bool {
        lhs.method == rhs.method && lhs.target == rhs.target && lhs.version == rhs.version
            && lhs.fields.map(\.name) == rhs.fields.map(\.name) && lhs.fields.map(\.value) == rhs.fields.map(\.value)
    }

    /// Why a head cannot be served.
    enum ParseError: Error, Sendable, Equatable {
        /// More than the allowed head size arrived without the blank line.
        case tooLarge
        case malformed(String)
    }

    /// The path of the target, without its query.
    var path: String {
        String(target.prefix { $0 != "?" })
    }

    /// Every value of `name`, with comma-separated lists split (RFC 9110 section 5.3).
    func values(_ name: String) -> [String] {
        let name = name.lowercased()
        return fields.filter { $0.name == name }.flatMap { $0.value.split(separator: ",") }
            .map { $0.trimmingSpaces }.filter { !$0.isEmpty }
    }

    /// Whether a list-valued header contains `token` (case-insensitive).
    func has(_ name: String, token: String) -> Bool {
        values(name).contains { $0.lowercased() == token.lowercased() }
    }

    /// The first value of `name`.
    func first(_ name: String) -> String? {
        let name = name.lowercased()
        return fields.first { $0.name == name }?.value
    }

    /// Where the head ends in `buffer` (the index after the blank line), nil when not yet
    /// complete; throws once `limit` bytes hold no end.
    static func end(in buffer: [UInt8], limit: Int) throws(ParseError) -> Int? {
        if buffer.count >= 4 {
            for index in 0...(buffer.count - 4)
            where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
                guard index + 4 <= limit else { throw .tooLarge }
                return index + 4
            }
        }
        if buffer.count >= limit { throw .tooLarge }
        return nil
    }

    /// Lines split at LF, a CR before it dropped (in Swift a CRLF is one Character: split bytes).
    private static func lines(of bytes: ArraySlice<UInt8>) -> [String] {
        bytes.split(separator: 10, omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == 13 ? line.dropLast() : line, as: UTF8.self)
        }
    }

    /// Parses a complete head (through the blank line).
    static func parse(_ bytes: ArraySlice<UInt8>, maxFields: Int = 100) throws(ParseError) -> HTTPRequestHead {
        // Bytes outside printable ASCII and tab are refused outright (obs-text is not needed here).
        guard bytes.allSatisfy({ $0 == 9 || $0 == 10 || $0 == 13 || ($0 >= 32 && $0 < 127) }) else {
            throw .malformed("non-ASCII or control bytes in the request head")
        }
        var lines = lines(of: bytes)
        guard lines.count >= 2, lines.last == "", lines[lines.count - 2] == "" else { throw .malformed("the head does not end with an empty line") }
        lines.removeLast(2)
        guard let requestLine = lines.first else { throw .malformed("no request line") }
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[1].hasPrefix("/"), parts[2].hasPrefix("HTTP/1.") else {
            throw .malformed("bad request line \(requestLine.prefix(200).debugDescription)")
        }
        let tokenCharacters = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        guard parts[0].allSatisfy({ tokenCharacters.contains($0) }) else { throw .malformed("bad method") }
        var fields: [(String, String)] = []
        for line in lines.dropFirst() {
            guard fields.count < maxFields else { throw .malformed("more than \(maxFields) header fields") }
            guard let colon = line.firstIndex(of: ":") else { throw .malformed("header line without a colon") }
            let name = line[..<colon]
            guard !name.isEmpty, name.allSatisfy({ tokenCharacters.contains($0) }) else {
                throw .malformed("bad header name \(String(name.prefix(100)).debugDescription)")
            }
            fields.append((name.lowercased(), String(line[line.index(after: colon)...]).trimmingSpaces))
        }
        return HTTPRequestHead(method: String(parts[0]), target: String(parts[1]), version: String(parts[2]), fields: fields)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}

