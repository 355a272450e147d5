/// One challenge of a `WWW-Authenticate` header (RFC 9110 §11.6.1): a scheme and its
/// parameters, e.g. `Bearer realm="https://auth.example/token",service="registry",scope="repository:x:pull"`.
public struct AuthChallenge: Sendable, Hashable {
    /// Lower-cased: `basic`, `bearer`.
    public let scheme: String
    /// Parameter names lower-cased; values unquoted.
    public let parameters: [String: String]

    public init(scheme: String, parameters: [String: String]) {
        self.scheme = scheme.lowercased()
        self.parameters = parameters
    }

    public subscript(parameter: String) -> String? { parameters[parameter.lowercased()] }

    /// Every challenge in the given `WWW-Authenticate` values. A header may hold several
    /// challenges separated by commas, and quoted values may themselves hold commas.
    /// Malformed input yields whatever challenges could be read before it.
    public static func parse(_ headerValues: [String]) -> [AuthChallenge] {
        headerValues.flatMap { parse(Array($0.utf8)) }
    }

    private static func parse(_ text: [UInt8]) -> [AuthChallenge] {
        let comma = UInt8(ascii: ",")
        var scanner = Scanner(bytes: text)
        var challenges: [AuthChallenge] = []
        while true {
            scanner.skip { $0 == comma || isSpace($0) }
            guard let scheme = scanner.token() else { break }
            var parameters: [String: String] = [:]
            let separated = scanner.skip(isSpace) > 0
            if separated, let token68 = scanner.token68() {
                parameters[""] = token68
            } else if separated {
                while let name = scanner.token() {
                    scanner.skip(isSpace)
                    guard scanner.consume(UInt8(ascii: "=")) else { break }
                    scanner.skip(isSpace)
                    parameters[name.lowercased()] = scanner.quotedString() ?? scanner.token() ?? ""
                    scanner.skip(isSpace)
                    guard scanner.consume(comma) else { break }
                    scanner.skip { $0 == comma || isSpace($0) }
                    // `name =` continues this challenge; a bare token starts the next one.
                    let mark = scanner.position
                    guard scanner.token() != nil else { break }
                    scanner.skip(isSpace)
                    let isParameter = scanner.peek == UInt8(ascii: "=")
                    scanner.position = mark
                    if !isParameter { break }
                }
            }
            challenges.append(AuthChallenge(scheme: scheme, parameters: parameters))
            // Resynchronise on the next comma after anything unparseable.
            if let next = scanner.peek, next != comma, !isTokenCharacter(next) {
                scanner.skip { $0 != comma }
            }
        }
        return challenges
    }

    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// RFC 9110 tchar.
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    private struct Scanner {
        let bytes: [UInt8]
        var position = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { position >= bytes.count }
        var peek: UInt8? { atEnd ? nil : bytes[position] }

        /// Skips bytes matching `predicate`; returns how many.
        @discardableResult
        mutating func skip(_ predicate: (UInt8) -> Bool) -> Int {
            let start = position
            while let byte = peek, predicate(byte) { position += 1 }
            return position - start
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            position += 1
            return true
        }

        mutating func token() -> String? {
            let start = position
            skip(AuthChallenge.isTokenCharacter)
            return position > start ? String(decoding: bytes[start..<position], as: UTF8.self) : nil
        }

        /// A token68 (`abc+/==`) standing alone up to a comma or the end; nil (and nothing
        /// consumed) when this is an auth-param list instead.
        mutating func token68() -> String? {
            let start = position
            let isToken68Character: (UInt8) -> Bool = { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                     UInt8(ascii: "0")...UInt8(ascii: "9"):
                    true
                default:
                    "-._~+/".utf8.contains(byte)
                }
            }
            guard skip(isToken68Character) > 0 else { return nil }
            skip { $0 == UInt8(ascii: "=") }
            let end = position
            skip(AuthChallenge.isSpace)
            guard atEnd || peek == UInt8(ascii: ",") else {
                position = start
                return nil
            }
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }

        /// A quoted-string with backslash escapes; nil (and nothing consumed) when not at a quote.
        mutating func quotedString() -> String? {
            guard peek == UInt8(ascii: "\"") else { return nil }
            position += 1
            var value: [UInt8] = []
            while let byte = peek {
                position += 1
                if byte == UInt8(ascii: "\"") { return String(decoding: value, as: UTF8.self) }
                if byte == UInt8(ascii: "\\"), let escaped = peek {
                    position += 1
                    value.append(escaped)
                } else {
                    value.append(byte)
                }
            }
            // Unterminated: take what there is.
            return String(decoding: value, as: UTF8.self)
        }
    }
}
