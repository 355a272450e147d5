/// Maximum nesting depth of tables, arrays and inline tables. Deeper documents
/// are rejected with an error instead of risking a stack overflow.
let maxNestingDepth = 128

/// One component of a (possibly dotted) key, with the source position where it starts.
struct KeyPart {
    var name: String
    var position: Int
}

/// Recursive-descent parser over the Unicode scalars of a document.
///
/// All reads go through `peek`, which returns `nil` past the end of input,
/// so malformed input can never cause an out-of-bounds access.
struct Parser {
    let text: [Unicode.Scalar]
    var pos = 0
    /// Index of the first scalar of every line, for position → line/column.
    let lineStarts: [Int]
    let root = TableNode(origin: .root, path: [])

    init(_ source: String) {
        var scalars = Array(source.unicodeScalars)
        if scalars.first == "\u{FEFF}" {
            scalars.removeFirst()
        }
        text = scalars
        var starts = [0]
        for (i, c) in scalars.enumerated() where c == "\n" {
            starts.append(i + 1)
        }
        lineStarts = starts
    }

    // MARK: - Positions and errors

    func location(of position: Int) -> (line: Int, column: Int) {
        let p = max(0, min(position, text.count))
        var lo = 0
        var hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= p { lo = mid } else { hi = mid - 1 }
        }
        let start = lineStarts.indices.contains(lo) ? lineStarts[lo] : 0
        return (lo + 1, p - start + 1)
    }

    func line(of position: Int) -> Int {
        location(of: position).line
    }

    func error(_ message: String, at position: Int) -> TOMLError {
        let loc = location(of: position)
        return TOMLError(line: loc.line, column: loc.column, message: message)
    }

    // MARK: - Low-level scanning

    func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        let i = pos + offset
        guard i >= 0, i < text.count else { return nil }
        return text[i]
    }

    func slice(_ start: Int, _ end: Int) -> String {
        let lo = max(0, min(start, text.count))
        let hi = max(lo, min(end, text.count))
        return String(String.UnicodeScalarView(text[lo..<hi]))
    }

    mutating func skipWhitespace() {
        while let c = peek(), c == " " || c == "\t" {
            pos += 1
        }
    }

    /// Consumes a LF or CRLF newline if one is next.
    mutating func consumeNewline() -> Bool {
        if peek() == "\n" {
            pos += 1
            return true
        }
        if peek() == "\r", peek(1) == "\n" {
            pos += 2
            return true
        }
        return false
    }

    /// Skips a comment starting at `#`, up to (not including) the newline.
    mutating func skipComment() throws(TOMLError) {
        pos += 1
        while let c = peek() {
            if c == "\n" { return }
            if c == "\r" {
                if peek(1) == "\n" { return }
                throw error("carriage return must be followed by a line feed", at: pos)
            }
            if isControl(c) {
                throw error("control character U+\(hex4(c)) is not allowed in comments", at: pos)
            }
            pos += 1
        }
    }

    /// Requires that only whitespace and an optional comment remain on the line,
    /// then consumes the newline (if not at the end of input).
    mutating func expectEndOfLine(after what: String) throws(TOMLError) {
        skipWhitespace()
        if peek() == "#" {
            try skipComment()
        }
        if peek() == nil || consumeNewline() { return }
        if peek() == "\r" {
            throw error("carriage return must be followed by a line feed", at: pos)
        }
        throw error("expected end of line after \(what), found \(describe(peek()))", at: pos)
    }

    /// Skips whitespace, comments and newlines (inside arrays).
    mutating func skipWhitespaceCommentsAndNewlines() throws(TOMLError) {
        while true {
            skipWhitespace()
            if peek() == "#" {
                try skipComment()
            }
            if consumeNewline() { continue }
            if peek() == "\r" {
                throw error("carriage return must be followed by a line feed", at: pos)
            }
            return
        }
    }

    // MARK: - Document structure

    mutating func parseDocument() throws(TOMLError) -> TOMLTable {
        var current = root
        var currentDepth = 0
        while true {
            skipWhitespace()
            guard let c = peek() else { break }
            if c == "#" || c == "\n" || c == "\r" {
                try expectEndOfLine(after: "comment")
                continue
            }
            if c == "[" {
                let header = try parseHeader()
                current = header.table
                currentDepth = header.depth
                try expectEndOfLine(after: "table header")
            } else {
                try parseKeyValue(into: current, depth: currentDepth)
                try expectEndOfLine(after: "value")
            }
        }
        return root.build()
    }

    mutating func parseKeyValue(into table: TableNode, depth: Int) throws(TOMLError) {
        let keyStart = pos
        let key = try parseKey()
        guard peek() == "=" else {
            throw error("expected '=' after key '\(display(key.map(\.name)))', found \(describe(peek()))", at: pos)
        }
        pos += 1
        skipWhitespace()
        let valueDepth = depth + key.count
        if valueDepth > maxNestingDepth {
            throw error("document is nested too deeply (more than \(maxNestingDepth) levels)", at: keyStart)
        }
        let value = try parseValue(depth: valueDepth)
        try insert(key, value, into: table, line: line(of: keyStart))
    }

    /// Parses `[a.b]` or `[[a.b]]` and returns the table that subsequent
    /// key/value pairs belong to.
    mutating func parseHeader() throws(TOMLError) -> (table: TableNode, depth: Int) {
        let start = pos
        let isArray = peek(1) == "["
        pos += isArray ? 2 : 1
        skipWhitespace()
        let key = try parseKey()
        if isArray {
            guard peek() == "]", peek(1) == "]" else {
                let offset = peek() == "]" ? 1 : 0
                throw error(
                    "expected ']]' to close array-of-tables header, found \(describe(peek(offset)))",
                    at: pos + offset)
            }
            pos += 2
        } else {
            guard peek() == "]" else {
                throw error("expected ']' to close table header, found \(describe(peek()))", at: pos)
            }
            pos += 1
        }
        let table = try openTable(key, isArray: isArray, line: line(of: start), headerStart: start)
        return (table, key.count)
    }

    // MARK: - Keys

    mutating func parseKey() throws(TOMLError) -> [KeyPart] {
        var parts: [KeyPart] = []
        while true {
            if parts.count >= maxNestingDepth {
                throw error("key has too many components (more than \(maxNestingDepth))", at: pos)
            }
            parts.append(try parseSimpleKey())
            skipWhitespace()
            guard peek() == "." else { return parts }
            pos += 1
            skipWhitespace()
        }
    }

    mutating func parseSimpleKey() throws(TOMLError) -> KeyPart {
        let start = pos
        guard let c = peek() else {
            throw error("expected a key, found end of input", at: pos)
        }
        if c == "\"" || c == "'" {
            if peek(1) == c, peek(2) == c {
                throw error("multi-line strings cannot be used as keys", at: pos)
            }
            if c == "\"" {
                return KeyPart(name: try parseBasicString(), position: start)
            }
            return KeyPart(name: try parseLiteralString(), position: start)
        }
        guard isBareKeyChar(c) else {
            throw error("expected a key, found \(describe(c))", at: pos)
        }
        while let c = peek(), isBareKeyChar(c) {
            pos += 1
        }
        return KeyPart(name: slice(start, pos), position: start)
    }

    // MARK: - Table bookkeeping

    /// Stores `value` under the dotted `key`, creating intermediate tables.
    mutating func insert(_ key: [KeyPart], _ value: TOMLValue, into table: TableNode, line: Int) throws(TOMLError) {
        var node = table
        for (i, part) in key.enumerated() {
            let path = node.path + [part.name]
            let existing = node.find(part.name)
            if i == key.count - 1 {
                if let existing {
                    let location = table.path.isEmpty ? "" : " in table [\(display(table.path))]"
                    throw error(
                        "duplicate key '\(display(key.map(\.name)))'\(location) (first defined on line \(existing.line))",
                        at: part.position)
                }
                node.add(part.name, .value(value), line: line)
                return
            }
            guard let existing else {
                let sub = TableNode(origin: .dotted, path: path)
                node.add(part.name, .table(sub), line: line)
                node = sub
                continue
            }
            switch existing.child {
            case .table(let sub):
                guard sub.origin == .dotted else {
                    throw error(
                        "cannot add to table [\(display(path))] with dotted keys: it was created by a [table] header on line \(existing.line)",
                        at: part.position)
                }
                node = sub
            case .tableArray:
                throw error(
                    "cannot add to array of tables [[\(display(path))]] with dotted keys (defined on line \(existing.line))",
                    at: part.position)
            case .value(let v):
                throw error(
                    "cannot use '\(display(path))' as a table: it is already defined as \(describeStatic(v)) on line \(existing.line)",
                    at: part.position)
            }
        }
    }

    /// Resolves a `[table]` or `[[array of tables]]` header, enforcing the
    /// TOML 1.0 rules against redefinition.
    mutating func openTable(_ key: [KeyPart], isArray: Bool, line: Int, headerStart: Int) throws(TOMLError) -> TableNode {
        let names = key.map(\.name)
        let header = isArray ? "[[\(display(names))]]" : "[\(display(names))]"
        let kind = isArray ? "array of tables" : "table"
        var node = root
        for (i, part) in key.enumerated() {
            let path = Array(names.prefix(i + 1))
            let prefix = display(path)
            let existing = node.find(part.name)
            let isLast = i == key.count - 1

            if !isLast {
                guard let existing else {
                    let sub = TableNode(origin: .implicit, path: path)
                    node.add(part.name, .table(sub), line: line)
                    node = sub
                    continue
                }
                switch existing.child {
                case .table(let sub):
                    node = sub
                case .tableArray(let array):
                    guard let last = array.elements.last else {
                        throw error("internal error: empty array of tables '\(prefix)'", at: part.position)
                    }
                    node = last
                case .value(let v):
                    throw error(
                        "cannot define \(kind) \(header): '\(prefix)' is already defined as \(describeStatic(v)) on line \(existing.line)",
                        at: part.position)
                }
                continue
            }

            if isArray {
                guard let existing else {
                    let element = TableNode(origin: .header, path: path)
                    node.add(part.name, .tableArray(TableArrayNode(first: element)), line: line)
                    return element
                }
                switch existing.child {
                case .tableArray(let array):
                    let element = TableNode(origin: .header, path: path)
                    array.elements.append(element)
                    return element
                case .value(.array):
                    throw error(
                        "cannot append to static array '\(prefix)' (defined on line \(existing.line)) with \(header)",
                        at: part.position)
                case .value(let v):
                    throw error(
                        "cannot define array of tables \(header): '\(prefix)' is already defined as \(describeStatic(v)) on line \(existing.line)",
                        at: part.position)
                case .table:
                    throw error(
                        "cannot define array of tables \(header): '\(prefix)' is already defined as a table on line \(existing.line)",
                        at: part.position)
                }
            }

            guard let existing else {
                let sub = TableNode(origin: .header, path: path)
                node.add(part.name, .table(sub), line: line)
                return sub
            }
            switch existing.child {
            case .table(let sub):
                switch sub.origin {
                case .implicit:
                    sub.origin = .header
                    node.setLine(part.name, line)
                    return sub
                case .dotted:
                    throw error(
                        "table \(header) was already defined with dotted keys on line \(existing.line)",
                        at: headerStart)
                case .header, .root, .inline:
                    throw error(
                        "table \(header) is already defined on line \(existing.line)",
                        at: headerStart)
                }
            case .tableArray:
                throw error(
                    "cannot define table \(header): '\(prefix)' is already defined as an array of tables on line \(existing.line)",
                    at: headerStart)
            case .value(let v):
                throw error(
                    "cannot define table \(header): '\(prefix)' is already defined as \(describeStatic(v)) on line \(existing.line)",
                    at: headerStart)
            }
        }
        throw error("expected a key", at: headerStart)
    }

    // MARK: - Values

    mutating func parseValue(depth: Int) throws(TOMLError) -> TOMLValue {
        if depth > maxNestingDepth {
            throw error("document is nested too deeply (more than \(maxNestingDepth) levels)", at: pos)
        }
        guard let c = peek() else {
            throw error("expected a value, found end of input", at: pos)
        }
        switch c {
        case "\"":
            if peek(1) == "\"", peek(2) == "\"" {
                return .string(try parseMultilineString(quote: "\""))
            }
            return .string(try parseBasicString())
        case "'":
            if peek(1) == "'", peek(2) == "'" {
                return .string(try parseMultilineString(quote: "'"))
            }
            return .string(try parseLiteralString())
        case "[":
            return try parseArray(depth: depth)
        case "{":
            return try parseInlineTable(depth: depth)
        default:
            return try parseBareValue()
        }
    }

    mutating func parseArray(depth: Int) throws(TOMLError) -> TOMLValue {
        let start = pos
        pos += 1
        var items: [TOMLValue] = []
        while true {
            try skipWhitespaceCommentsAndNewlines()
            guard let c = peek() else {
                throw error("unterminated array (missing ']')", at: start)
            }
            if c == "]" {
                pos += 1
                return .array(items)
            }
            items.append(try parseValue(depth: depth + 1))
            try skipWhitespaceCommentsAndNewlines()
            switch peek() {
            case ",":
                pos += 1
            case "]":
                pos += 1
                return .array(items)
            case nil:
                throw error("unterminated array (missing ']')", at: start)
            default:
                throw error("expected ',' or ']' after array element, found \(describe(peek()))", at: pos)
            }
        }
    }

    mutating func parseInlineTable(depth: Int) throws(TOMLError) -> TOMLValue {
        let start = pos
        pos += 1
        let node = TableNode(origin: .inline, path: [])
        skipWhitespace()
        if peek() == "}" {
            pos += 1
            return .table(node.build())
        }
        while true {
            skipWhitespace()
            try checkInlineTableContinues(start: start)
            if peek() == "}" {
                throw error("trailing comma is not allowed in an inline table", at: pos)
            }
            let keyStart = pos
            let key = try parseKey()
            guard peek() == "=" else {
                throw error("expected '=' after key '\(display(key.map(\.name)))', found \(describe(peek()))", at: pos)
            }
            pos += 1
            skipWhitespace()
            try checkInlineTableContinues(start: start)
            let value = try parseValue(depth: depth + key.count)
            try insert(key, value, into: node, line: line(of: keyStart))
            skipWhitespace()
            try checkInlineTableContinues(start: start)
            switch peek() {
            case ",":
                pos += 1
            case "}":
                pos += 1
                return .table(node.build())
            default:
                throw error("expected ',' or '}' in inline table, found \(describe(peek()))", at: pos)
            }
        }
    }

    /// Inline tables must stay on one line and be closed.
    func checkInlineTableContinues(start: Int) throws(TOMLError) {
        switch peek() {
        case nil:
            throw error("unterminated inline table (missing '}')", at: start)
        case "\n", "\r":
            throw error("newlines are not allowed in an inline table", at: pos)
        case "#":
            throw error("comments are not allowed in an inline table", at: pos)
        default:
            return
        }
    }

    // MARK: - Strings

    /// Parses a single-line basic string starting at `"`.
    mutating func parseBasicString() throws(TOMLError) -> String {
        let start = pos
        pos += 1
        var out = String.UnicodeScalarView()
        while true {
            guard let c = peek() else {
                throw error("unterminated string (missing closing '\"')", at: start)
            }
            switch c {
            case "\"":
                pos += 1
                return String(out)
            case "\\":
                out.append(try parseEscape())
            case "\n":
                throw error("unterminated string (missing closing '\"' before end of line)", at: start)
            case "\r" where peek(1) == "\n":
                throw error("unterminated string (missing closing '\"' before end of line)", at: start)
            default:
                if isControl(c) {
                    throw error("control character U+\(hex4(c)) is not allowed in a string; use an escape sequence", at: pos)
                }
                out.append(c)
                pos += 1
            }
        }
    }

    /// Parses a single-line literal string starting at `'`.
    mutating func parseLiteralString() throws(TOMLError) -> String {
        let start = pos
        pos += 1
        var out = String.UnicodeScalarView()
        while true {
            guard let c = peek() else {
                throw error("unterminated literal string (missing closing \"'\")", at: start)
            }
            switch c {
            case "'":
                pos += 1
                return String(out)
            case "\n":
                throw error("unterminated literal string (missing closing \"'\" before end of line)", at: start)
            case "\r" where peek(1) == "\n":
                throw error("unterminated literal string (missing closing \"'\" before end of line)", at: start)
            default:
                if isControl(c) {
                    throw error("control character U+\(hex4(c)) is not allowed in a literal string", at: pos)
                }
                out.append(c)
                pos += 1
            }
        }
    }

    /// Parses a multi-line basic (`"""`) or literal (`'''`) string.
    mutating func parseMultilineString(quote: Unicode.Scalar) throws(TOMLError) -> String {
        let start = pos
        let isBasic = quote == "\""
        let delimiter = isBasic ? "\"\"\"" : "'''"
        pos += 3
        _ = consumeNewline()  // a newline right after the opening delimiter is trimmed
        var out = String.UnicodeScalarView()
        while true {
            guard let c = peek() else {
                throw error("unterminated multi-line string (missing closing \(delimiter))", at: start)
            }
            if c == quote {
                var run = 0
                while peek(run) == quote { run += 1 }
                if run < 3 {
                    for _ in 0..<run { out.append(quote) }
                    pos += run
                    continue
                }
                // Up to two quotes may directly precede the closing delimiter.
                let content = min(run, 5) - 3
                for _ in 0..<content { out.append(quote) }
                pos += content + 3
                return String(out)
            }
            if isBasic, c == "\\" {
                if isLineEndingBackslash() {
                    pos += 1
                    while true {
                        skipWhitespace()
                        if consumeNewline() { continue }
                        break
                    }
                    continue
                }
                out.append(try parseEscape())
                continue
            }
            if c == "\n" {
                out.append("\n")
                pos += 1
                continue
            }
            if c == "\r" {
                guard peek(1) == "\n" else {
                    throw error("carriage return must be followed by a line feed", at: pos)
                }
                out.append("\n")
                pos += 2
                continue
            }
            if isControl(c) {
                throw error("control character U+\(hex4(c)) is not allowed in a string", at: pos)
            }
            out.append(c)
            pos += 1
        }
    }

    /// Whether the backslash at `pos` is followed only by whitespace up to a newline.
    func isLineEndingBackslash() -> Bool {
        var i = 1
        while let c = peek(i), c == " " || c == "\t" { i += 1 }
        return peek(i) == "\n" || (peek(i) == "\r" && peek(i + 1) == "\n")
    }

    /// Parses an escape sequence starting at `\` in a basic string.
    mutating func parseEscape() throws(TOMLError) -> Unicode.Scalar {
        let start = pos
        pos += 1
        guard let c = peek() else {
            throw error("unterminated string (incomplete escape sequence)", at: start)
        }
        pos += 1
        switch c {
        case "b": return "\u{08}"
        case "t": return "\t"
        case "n": return "\n"
        case "f": return "\u{0C}"
        case "r": return "\r"
        case "\"": return "\""
        case "\\": return "\\"
        case "u", "U":
            let count = c == "u" ? 4 : 8
            var value: UInt32 = 0
            for _ in 0..<count {
                guard let d = peek(), let digit = hexValue(d) else {
                    throw error("escape \\\(c) must be followed by exactly \(count) hexadecimal digits", at: start)
                }
                value = value &* 16 &+ digit
                pos += 1
            }
            guard let scalar = Unicode.Scalar(value) else {
                throw error("escape \(slice(start, pos)) is not a valid Unicode scalar value", at: start)
            }
            return scalar
        default:
            let shown = c == "\n" || c == "\r" || isControl(c) ? describe(c) : "'\\\(c)'"
            throw error("invalid escape sequence \(shown)", at: start)
        }
    }

    // MARK: - Scalars: booleans, numbers, date-times

    mutating func parseBareValue() throws(TOMLError) -> TOMLValue {
        let start = pos
        if looksLikeDate() || looksLikeTime() {
            return try parseDateTime()
        }
        while let c = peek(), isTokenChar(c) {
            pos += 1
        }
        guard pos > start else {
            throw error("expected a value, found \(describe(peek()))", at: start)
        }
        let token = Array(text[start..<pos])
        switch slice(start, pos) {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan": return .float(.nan)
        case "-nan": return .float(-Double.nan)
        default: break
        }
        if let first = token.first, isDigit(first) || first == "+" || first == "-" || first == "." {
            let loc = location(of: start)
            var number = NumberParser(token: token) { message in
                TOMLError(line: loc.line, column: loc.column, message: message)
            }
            return try number.parse()
        }
        throw error(
            "invalid value '\(slice(start, pos))' (expected a string, number, boolean, date-time, array or inline table)",
            at: start)
    }

    func looksLikeDate() -> Bool {
        (0..<4).allSatisfy { peek($0).map(isDigit) ?? false } && peek(4) == "-"
    }

    func looksLikeTime() -> Bool {
        (0..<2).allSatisfy { peek($0).map(isDigit) ?? false } && peek(2) == ":"
    }

    mutating func parseDateTime() throws(TOMLError) -> TOMLValue {
        let start = pos
        if looksLikeDate() {
            let year = try fixedDigits(4, "year")
            try expectScalar("-", "'-' after year")
            let monthPos = pos
            let month = try fixedDigits(2, "month")
            guard (1...12).contains(month) else {
                throw error("invalid date: month must be between 01 and 12", at: monthPos)
            }
            try expectScalar("-", "'-' after month")
            let dayPos = pos
            let day = try fixedDigits(2, "day")
            guard day >= 1, day <= daysIn(month: month, year: year) else {
                throw error("invalid date: day \(slice(dayPos, pos)) is out of range for \(slice(start, dayPos + 2).prefix(7))", at: dayPos)
            }
            if peek() == "T" || peek() == "t" {
                pos += 1
                try parseTime(allowOffset: true)
            } else if peek() == " ", let a = peek(1), let b = peek(2), isDigit(a), isDigit(b), peek(3) == ":" {
                pos += 1
                try parseTime(allowOffset: true)
            }
        } else {
            try parseTime(allowOffset: false)
        }
        if let c = peek(), isTokenChar(c) || c == ":" {
            throw error("invalid date-time '\(slice(start, pos))\(c)...'", at: pos)
        }
        return .datetime(slice(start, pos))
    }

    mutating func parseTime(allowOffset: Bool) throws(TOMLError) {
        let hourPos = pos
        let hour = try fixedDigits(2, "hour")
        guard hour <= 23 else { throw error("invalid time: hour must be between 00 and 23", at: hourPos) }
        try expectScalar(":", "':' after hour")
        let minutePos = pos
        let minute = try fixedDigits(2, "minute")
        guard minute <= 59 else { throw error("invalid time: minute must be between 00 and 59", at: minutePos) }
        try expectScalar(":", "':' after minute (seconds are required)")
        let secondPos = pos
        let second = try fixedDigits(2, "second")
        guard second <= 60 else { throw error("invalid time: second must be between 00 and 60", at: secondPos) }
        if peek() == "." {
            pos += 1
            guard let d = peek(), isDigit(d) else {
                throw error("invalid time: expected digits after '.'", at: pos)
            }
            while let d = peek(), isDigit(d) { pos += 1 }
        }
        guard allowOffset else { return }
        if peek() == "Z" || peek() == "z" {
            pos += 1
        } else if peek() == "+" || peek() == "-" {
            pos += 1
            let offsetHourPos = pos
            let offsetHour = try fixedDigits(2, "offset hour")
            guard offsetHour <= 23 else {
                throw error("invalid time offset: hour must be between 00 and 23", at: offsetHourPos)
            }
            try expectScalar(":", "':' in time offset")
            let offsetMinutePos = pos
            let offsetMinute = try fixedDigits(2, "offset minute")
            guard offsetMinute <= 59 else {
                throw error("invalid time offset: minute must be between 00 and 59", at: offsetMinutePos)
            }
        }
    }

    mutating func fixedDigits(_ count: Int, _ what: String) throws(TOMLError) -> Int {
        var value = 0
        for _ in 0..<count {
            guard let c = peek(), isDigit(c) else {
                throw error("invalid date-time: expected \(count)-digit \(what), found \(describe(peek()))", at: pos)
            }
            value = value * 10 + Int(c.value - 0x30)
            pos += 1
        }
        return value
    }

    mutating func expectScalar(_ expected: Unicode.Scalar, _ what: String) throws(TOMLError) {
        guard peek() == expected else {
            throw error("invalid date-time: expected \(what), found \(describe(peek()))", at: pos)
        }
        pos += 1
    }
}

// MARK: - Numbers

/// Validates and converts an integer or float token (already known not to be
/// a boolean, `inf` or `nan`).
struct NumberParser {
    let token: [Unicode.Scalar]
    let error: (String) -> TOMLError
    var i = 0

    init(token: [Unicode.Scalar], error: @escaping (String) -> TOMLError) {
        self.token = token
        self.error = error
    }

    var text: String { String(String.UnicodeScalarView(token)) }

    func at(_ index: Int) -> Unicode.Scalar? {
        token.indices.contains(index) ? token[index] : nil
    }

    mutating func parse() throws(TOMLError) -> TOMLValue {
        var negative = false
        var signed = false
        if let s = at(0), s == "+" || s == "-" {
            signed = true
            negative = s == "-"
            i = 1
        }
        if at(i) == "0", let p = at(i + 1), let radix = radix(for: p) {
            guard !signed else {
                throw error("invalid integer '\(text)': a sign is not allowed on hexadecimal, octal or binary integers")
            }
            i += 2
            let digits = try digitRun(radix: radix, what: "digits after '0\(p)'")
            guard i == token.count else {
                throw error("invalid \(radixName(radix)) integer '\(text)'")
            }
            return .integer(try makeInteger(digits, radix: radix, negative: false))
        }
        let intDigits = try digitRun(radix: 10, what: "digits")
        if intDigits.count > 1, intDigits.first == 0 {
            throw error("invalid number '\(text)': leading zeros are not allowed")
        }
        var isFloat = false
        var fraction: [UInt32] = []
        var exponent: [UInt32] = []
        var exponentNegative = false
        if at(i) == "." {
            i += 1
            isFloat = true
            fraction = try digitRun(radix: 10, what: "digits after the decimal point")
        }
        if let e = at(i), e == "e" || e == "E" {
            i += 1
            isFloat = true
            if let s = at(i), s == "+" || s == "-" {
                exponentNegative = s == "-"
                i += 1
            }
            exponent = try digitRun(radix: 10, what: "exponent digits")
        }
        guard i == token.count else {
            throw error("invalid number '\(text)'")
        }
        guard isFloat else {
            return .integer(try makeInteger(intDigits, radix: 10, negative: negative))
        }
        var literal = negative ? "-" : ""
        literal += intDigits.map { String($0) }.joined()
        if !fraction.isEmpty {
            literal += "." + fraction.map { String($0) }.joined()
        }
        if !exponent.isEmpty {
            literal += (exponentNegative ? "e-" : "e") + exponent.map { String($0) }.joined()
        }
        guard let value = Double(literal), value.isFinite else {
            throw error("float '\(text)' is out of range for a 64-bit float")
        }
        return .float(value)
    }

    /// Reads one or more digits of `radix`, allowing single underscores between digits.
    mutating func digitRun(radix: UInt32, what: String) throws(TOMLError) -> [UInt32] {
        var digits: [UInt32] = []
        guard let first = at(i), let d = digitValue(first, radix: radix) else {
            if at(i) == "_" {
                throw error("invalid number '\(text)': underscores must be between digits")
            }
            throw error("invalid number '\(text)': expected \(what)")
        }
        digits.append(d)
        i += 1
        while let c = at(i) {
            if c == "_" {
                guard let next = at(i + 1), digitValue(next, radix: radix) != nil else {
                    throw error("invalid number '\(text)': underscores must be between digits")
                }
                i += 1
                continue
            }
            guard let d = digitValue(c, radix: radix) else { break }
            digits.append(d)
            i += 1
        }
        return digits
    }

    func makeInteger(_ digits: [UInt32], radix: UInt32, negative: Bool) throws(TOMLError) -> Int64 {
        var magnitude: UInt64 = 0
        for d in digits {
            let (m, o1) = magnitude.multipliedReportingOverflow(by: UInt64(radix))
            let (a, o2) = m.addingReportingOverflow(UInt64(d))
            guard !o1, !o2 else { throw outOfRange() }
            magnitude = a
        }
        let limit = UInt64(Int64.max)
        if negative {
            guard magnitude <= limit + 1 else { throw outOfRange() }
            return magnitude == limit + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= limit else { throw outOfRange() }
        return Int64(magnitude)
    }

    func outOfRange() -> TOMLError {
        error("integer '\(text)' is out of range for a 64-bit signed integer")
    }

    func radix(for c: Unicode.Scalar) -> UInt32? {
        switch c {
        case "x": return 16
        case "o": return 8
        case "b": return 2
        default: return nil
        }
    }

    func radixName(_ radix: UInt32) -> String {
        switch radix {
        case 16: return "hexadecimal"
        case 8: return "octal"
        default: return "binary"
        }
    }
}

// MARK: - Character classes and formatting helpers

func isDigit(_ c: Unicode.Scalar) -> Bool {
    c.value >= 0x30 && c.value <= 0x39
}

func hexValue(_ c: Unicode.Scalar) -> UInt32? {
    digitValue(c, radix: 16)
}

func digitValue(_ c: Unicode.Scalar, radix: UInt32) -> UInt32? {
    let v = c.value
    let d: UInt32
    switch v {
    case 0x30...0x39: d = v - 0x30
    case 0x41...0x46: d = v - 0x41 + 10
    case 0x61...0x66: d = v - 0x61 + 10
    default: return nil
    }
    return d < radix ? d : nil
}

func isBareKeyChar(_ c: Unicode.Scalar) -> Bool {
    switch c.value {
    case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x5F, 0x2D: return true
    default: return false
    }
}

/// Characters that can be part of an unquoted value token (number, boolean, inf/nan).
func isTokenChar(_ c: Unicode.Scalar) -> Bool {
    isBareKeyChar(c) || c == "+" || c == "."
}

/// Control characters that TOML forbids in strings and comments (tab is allowed).
func isControl(_ c: Unicode.Scalar) -> Bool {
    (c.value < 0x20 && c != "\t") || c.value == 0x7F
}

/// Describes a scalar for an error message: `'x'`, `end of line`, `U+FEFF`, ...
func describe(_ c: Unicode.Scalar?) -> String {
    guard let c else { return "end of input" }
    switch c {
    case "\n": return "end of line"
    case "\r": return "carriage return"
    case "\t": return "tab"
    case " ": return "space"
    default: break
    }
    if c.value >= 0x21 && c.value <= 0x7E {
        return "'\(c)'"
    }
    switch c.properties.generalCategory {
    case .control, .format, .spaceSeparator, .lineSeparator, .paragraphSeparator,
        .unassigned, .privateUse, .surrogate, .nonspacingMark, .enclosingMark:
        return "U+" + hex4(c)
    default:
        return "'\(c)' (U+\(hex4(c)))"
    }
}

/// Renders a dotted key the way it could be written in TOML, quoting parts
/// that are not valid bare keys.
func display(_ key: [String]) -> String {
    key.map { name in
        if !name.isEmpty, name.unicodeScalars.allSatisfy(isBareKeyChar) {
            return name
        }
        var quoted = "\""
        for c in name.unicodeScalars {
            switch c {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            default:
                if isControl(c) || c == "\t" {
                    quoted += "\\u" + hex4(c)
                } else {
                    quoted.unicodeScalars.append(c)
                }
            }
        }
        return quoted + "\""
    }.joined(separator: ".")
}

func hex4(_ c: Unicode.Scalar) -> String {
    let hex = String(c.value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 4 - hex.count)) + hex
}

/// "an integer", "an inline table", "a static array", ...
func describeStatic(_ value: TOMLValue) -> String {
    switch value {
    case .table: return "an inline table"
    case .array: return "a static array"
    case .integer: return "an integer"
    default: return "a \(value.typeName)"
    }
}

func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2:
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        return leap ? 29 : 28
    case 4, 6, 9, 11:
        return 30
    default:
        return 31
    }
}
