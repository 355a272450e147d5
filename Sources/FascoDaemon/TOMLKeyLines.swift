import FoundationEssentials

/// Where a key of a TOML document is written, for error messages: TOMLKit parses the document
/// but gives positions only for syntax errors. Best effort over a document that parsed: the
/// first line whose table header (`[a.b]`, `[[a.b]]`) or key (`k =`, `a."b.c" =`) under the
/// current header spells the key's path or a path below it, else the line of the key whose
/// inline table or array holds it. Lines inside multi-line strings are skipped. Nil when no line is found (the message then names the key without a line).
struct TOMLKeyLines {
    /// (line number, full key path) of every header and key, in document order.
    private var definitions: [(line: Int, path: [String], isKey: Bool)] = []

    init(_ text: String) {
        var header: [String] = []
        var inMultilineString = false
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let delimiters = Self.occurrences(of: "\"\"\"", in: line) + Self.occurrences(of: "'''", in: line)
            defer { if delimiters % 2 == 1 { inMultilineString.toggle() } }
            if inMultilineString { continue }
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.hasPrefix("[") {
                let inner = trimmed.drop { $0 == "[" }.prefix { $0 != "]" }
                if let path = Self.keys(inner) {
                    header = path
                    definitions.append((index + 1, path, false))
                }
            } else if let equals = Self.firstUnquoted("=", in: trimmed), let path = Self.keys(trimmed[..<equals]) {
                definitions.append((index + 1, header + path, true))
            }
        }
    }

    func line(of path: [String]) -> Int? {
        definitions.first { $0.path.starts(with: path) }?.line
            ?? definitions.first { $0.isKey && path.starts(with: $0.path) }?.line
    }

    /// The path as TOML writes it: bare keys as they are, others quoted, joined by dots.
    static func display(_ path: [String]) -> String {
        path.map { key in
            let bare = !key.isEmpty && key.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
            }
            return bare ? key : "\"" + key.replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }.joined(separator: ".")
    }

    /// A dotted key's parts, unquoted; nil when it is not a key.
    private static func keys(_ text: Substring) -> [String]? {
        var parts: [String] = []
        var current = ""
        var quote: Character?
        var escaped = false
        var quotedPart = false
        for character in text {
            if let open = quote {
                if escaped {
                    current.append(character)
                    escaped = false
                } else if character == "\\" && open == "\"" {
                    escaped = true
                } else if character == open {
                    quote = nil
                } else {
                    current.append(character)
                }
                continue
            }
            switch character {
            case "\"", "'":
                quote = character
                quotedPart = true
            case ".":
                guard !current.isEmpty || quotedPart else { return nil }
                parts.append(current)
                current = ""
                quotedPart = false
            case " ", "\t":
                continue
            default:
                current.append(character)
            }
        }
        guard quote == nil, !current.isEmpty || quotedPart else { return nil }
        parts.append(current)
        return parts
    }

    private static func firstUnquoted(_ target: Character, in text: Substring) -> Substring.Index? {
        var quote: Character?
        var escaped = false
        for index in text.indices {
            let character = text[index]
            if let open = quote {
                if escaped { escaped = false } else if character == "\\" && open == "\"" { escaped = true } else if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "#" {
                return nil
            } else if character == target {
                return index
            }
        }
        return nil
    }

    private static func occurrences(of delimiter: String, in line: Substring) -> Int {
        var count = 0
        var rest = line[...]
        while let range = rest.range(of: delimiter) {
            count += 1
            rest = rest[range.upperBound...]
        }
        return count
    }
}
