/// What a TOML document must satisfy before it is handed to TOMLKit (toml++), which does not
/// bound it itself: toml++ reads a C string (a NUL would end the document early, unseen), and
/// builds one nested table per part of a dotted key or table header, recursively (200,000
/// parts overflow the stack: a crash, from a pod annotation). Inline tables and arrays are
/// bounded by toml++ (256 levels). TOML forbids NUL anywhere, and no real document nests keys
/// this deep, so neither bound refuses a document that matters.
public enum TOMLLimits {
    /// Parts of one dotted key or header (dots outside strings and comments, on one line).
    public static let maxKeyParts = 64

    /// Nil when `text` is within bounds, else its first line that is not and why.
    public static func violation(in text: String) -> (line: Int, reason: String)? {
        enum Context { case code, comment, basic, literal, multilineBasic, multilineLiteral }
        let bytes = Array(text.utf8)
        var context = Context.code
        var line = 1
        var dots = 0
        var index = 0
        func at(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }
        func isDigit(_ byte: UInt8?) -> Bool { byte.map { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } ?? false }
        let quote = UInt8(ascii: "\""), apostrophe = UInt8(ascii: "'"), backslash = UInt8(ascii: "\\")
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0 { return (line, "a NUL character is not allowed in TOML") }
            if byte == UInt8(ascii: "\n") {
                line += 1
                dots = 0
                // Single-line strings and comments end at the line's end (an unterminated string is toml++'s error).
                if context != .multilineBasic && context != .multilineLiteral { context = .code }
                index += 1
                continue
            }
            switch context {
            case .code:
                if byte == UInt8(ascii: "#") {
                    context = .comment
                } else if byte == quote {
                    if at(1) == quote && at(2) == quote { context = .multilineBasic; index += 2 } else { context = .basic }
                } else if byte == apostrophe {
                    if at(1) == apostrophe && at(2) == apostrophe { context = .multilineLiteral; index += 2 } else { context = .literal }
                } else if byte == UInt8(ascii: "."), !(isDigit(index > 0 ? bytes[index - 1] : nil) && isDigit(at(1))) {
                    dots += 1
                    if dots >= maxKeyParts {
                        return (line, "a key of more than \(maxKeyParts) dotted parts")
                    }
                }
            case .comment:
                break
            case .basic:
                if byte == backslash && at(1) != UInt8(ascii: "\n") { index += 1 } else if byte == quote { context = .code }
            case .literal:
                if byte == apostrophe { context = .code }
            case .multilineBasic:
                if byte == backslash && at(1) != UInt8(ascii: "\n") {
                    index += 1
                } else if byte == quote && at(1) == quote && at(2) == quote {
                    context = .code
                    index += 2
                }
            case .multilineLiteral:
                if byte == apostrophe && at(1) == apostrophe && at(2) == apostrophe {
                    context = .code
                    index += 2
                }
            }
            index += 1
        }
        return nil
    }
}
