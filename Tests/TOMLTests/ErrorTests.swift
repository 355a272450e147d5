import Testing
import TOML

/// An invalid document with the exact position and a fragment of the message it must produce.
struct ErrorCase: Sendable, CustomTestStringConvertible {
    var name: String
    var source: String
    var line: Int
    var column: Int
    var fragment: String

    init(_ name: String, _ source: String, _ line: Int, _ column: Int, _ fragment: String) {
        self.name = name
        self.source = source
        self.line = line
        self.column = column
        self.fragment = fragment
    }

    var testDescription: String { name }
}

func check(_ c: ErrorCase, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let error = parseError(c.source) else {
        Issue.record("\(c.name): expected an error, but the document parsed", sourceLocation: sourceLocation)
        return
    }
    #expect(error.line == c.line, "\(c.name): \(error)", sourceLocation: sourceLocation)
    #expect(error.column == c.column, "\(c.name): \(error)", sourceLocation: sourceLocation)
    #expect(error.message.contains(c.fragment), "\(c.name): \(error)", sourceLocation: sourceLocation)
}

@Suite("Errors")
struct ErrorTests {
    static let redefinitions: [ErrorCase] = [
        ErrorCase("duplicate key", "a = 1\nb = 2\na = 3", 3, 1, "duplicate key 'a' (first defined on line 1)"),
        ErrorCase("duplicate key in table", "[server]\nport = 1\n  port = 2", 3, 3,
                  "duplicate key 'port' in table [server] (first defined on line 2)"),
        ErrorCase("duplicate bare vs quoted key", "spelling = \"favorite\"\n\"spelling\" = \"favourite\"", 2, 1,
                  "duplicate key 'spelling'"),
        ErrorCase("duplicate literal-quoted key", "'a b' = 1\n\"a b\" = 2", 2, 1, "duplicate key '\"a b\"' (first defined on line 1)"),
        ErrorCase("duplicate key in inline table", "a = {b = 1, b = 2}", 1, 13, "duplicate key 'b'"),
        ErrorCase("table defined twice", "[a]\nb = 1\n\n[a]\nc = 2", 4, 1, "table [a] is already defined on line 1"),
        ErrorCase("super table defined twice", "[a.b]\n[a]\n[a]", 3, 1, "table [a] is already defined on line 2"),
        ErrorCase("sub table defined twice", "[a]\n[a.b]\nc = 1\n[a.b]", 4, 1, "table [a.b] is already defined on line 2"),
        ErrorCase("quoted header equals bare header", "[a]\n[\"a\"]", 2, 1, "table [a] is already defined"),
        ErrorCase("header over integer", "[a]\nb = 1\n[a.b]", 3, 1,
                  "cannot define table [a.b]: 'a.b' is already defined as an integer on line 2"),
        ErrorCase("header through string", "a = \"x\"\n[a.b.c]", 2, 2,
                  "cannot define table [a.b.c]: 'a' is already defined as a string on line 1"),
        ErrorCase("header over dotted table", "[fruit]\napple.color = \"red\"\n\n[fruit.apple]", 4, 1,
                  "table [fruit.apple] was already defined with dotted keys on line 2"),
        ErrorCase("header over nested dotted table", "[fruit]\napple.taste.sweet = true\n[fruit.apple.taste]", 3, 1,
                  "table [fruit.apple.taste] was already defined with dotted keys"),
        ErrorCase("header over root dotted table", "a.b = 1\n[a]", 2, 1, "table [a] was already defined with dotted keys on line 1"),
        ErrorCase("dotted keys into header table", "[a.b.c]\nz = 9\n\n[a]\nb.c.t = 1", 5, 1,
                  "cannot add to table [a.b] with dotted keys: it was created by a [table] header on line 1"),
        ErrorCase("dotted keys into explicit table", "[a]\n[a.b]\nx = 1\n[a.c]\n[a]", 5, 1, "table [a] is already defined"),
        ErrorCase("dotted key through integer", "a = 1\na.b = 2", 2, 1,
                  "cannot use 'a' as a table: it is already defined as an integer on line 1"),
        ErrorCase("dotted key over table", "a.b.c = 1\na.b = 2", 2, 3, "duplicate key 'a.b' (first defined on line 1)"),
        ErrorCase("plain key over dotted table", "a.b = 1\na = 2", 2, 1, "duplicate key 'a'"),
        ErrorCase("dotted key extends inline table", "a = {b = 1}\na.c = 2", 2, 1,
                  "cannot use 'a' as a table: it is already defined as an inline table on line 1"),
        ErrorCase("header extends inline table", "a = {b = 1}\n[a]", 2, 1,
                  "cannot define table [a]: 'a' is already defined as an inline table on line 1"),
        ErrorCase("header extends nested inline table", "[a]\nb = { c = 2, d = {} }\n[a.b.d]", 3, 4,
                  "'a.b' is already defined as an inline table on line 2"),
        ErrorCase("dotted key inside inline table over value", "a = {k1 = 1, k1.name = \"joe\"}", 1, 14,
                  "cannot use 'k1' as a table: it is already defined as an integer"),
        ErrorCase("inline table redefined inside inline table", "a = {b = {c = 1}, b.d = 2}", 1, 19,
                  "'b' as a table: it is already defined as an inline table"),
        ErrorCase("append to static array", "a = [1, 2]\n[[a]]", 2, 3,
                  "cannot append to static array 'a' (defined on line 1) with [[a]]"),
        ErrorCase("append to static array of inline tables", "fruits = [{name = \"x\"}]\n\n[[fruits]]", 3, 3,
                  "cannot append to static array 'fruits'"),
        ErrorCase("table through static array", "a = []\n[[a.b]]", 2, 3,
                  "cannot define array of tables [[a.b]]: 'a' is already defined as a static array on line 1"),
        ErrorCase("array of tables over boolean", "a = true\n[[a]]", 2, 3, "'a' is already defined as a boolean"),
        ErrorCase("array of tables over table", "[a]\n[[a]]", 2, 3,
                  "cannot define array of tables [[a]]: 'a' is already defined as a table on line 1"),
        ErrorCase("array of tables over dotted table", "[fruit]\napple.color = \"red\"\n[[fruit.apple]]", 3, 9,
                  "'fruit.apple' is already defined as a table"),
        ErrorCase("table over array of tables", "[[a]]\n[a]", 2, 1,
                  "cannot define table [a]: 'a' is already defined as an array of tables on line 1"),
        ErrorCase("dotted keys into array of tables", "[[a.b]]\n[a]\nb.y = 2", 3, 1,
                  "cannot add to array of tables [[a.b]] with dotted keys (defined on line 1)"),
        ErrorCase("key over array of tables", "[[parent.arr]]\n[parent]\narr = 2", 3, 1,
                  "duplicate key 'arr' in table [parent]"),
    ]

    @Test(arguments: redefinitions)
    func redefinition(_ c: ErrorCase) {
        check(c)
    }

    static let strings: [ErrorCase] = [
        ErrorCase("unterminated basic string", "a = \"abc", 1, 5, "unterminated string"),
        ErrorCase("basic string broken by newline", "x = 1\na = \"abc\nb = 1", 2, 5, "before end of line"),
        ErrorCase("unterminated literal string", "a = 'abc", 1, 5, "unterminated literal string"),
        ErrorCase("literal string broken by newline", "a = 'abc\n'", 1, 5, "unterminated literal string"),
        ErrorCase("unterminated multi-line basic", "a = \"\"\"abc\n\nmore\"\"", 1, 5,
                  "unterminated multi-line string (missing closing \"\"\")"),
        ErrorCase("unterminated multi-line literal", "\n  a = '''abc''", 2, 7,
                  "unterminated multi-line string (missing closing ''')"),
        ErrorCase("unterminated quoted key", "\"abc = 1", 1, 1, "unterminated string"),
        ErrorCase("control character in basic string", "a = \"x\u{01}y\"", 1, 7,
                  "control character U+0001 is not allowed in a string"),
        ErrorCase("NUL in basic string", "a = \"\u{00}\"", 1, 6, "control character U+0000"),
        ErrorCase("DEL in literal string", "a = 'x\u{7F}'", 1, 7, "control character U+007F is not allowed in a literal string"),
        ErrorCase("control character in multi-line string", "a = \"\"\"\nx\u{1B}\"\"\"", 2, 2, "control character U+001B"),
        ErrorCase("control character in multi-line literal", "a = '''\u{08}'''", 1, 8, "control character U+0008"),
        ErrorCase("bare CR in basic string", "a = \"x\ry\"", 1, 7, "control character U+000D"),
        ErrorCase("bare CR in multi-line string", "a = \"\"\"x\ry\"\"\"", 1, 9, "carriage return must be followed by a line feed"),
        ErrorCase("control character in comment", "# hi \u{07}\na = 1", 1, 6,
                  "control character U+0007 is not allowed in comments"),
        ErrorCase("bare CR at end of line", "a = 1\r\nb = 2\r", 2, 6, "carriage return must be followed by a line feed"),
        ErrorCase("bare CR in comment", "a = 1 # x\ry", 1, 10, "carriage return"),
        ErrorCase("invalid escape", #"a = "\q""#, 1, 6, #"invalid escape sequence '\q'"#),
        ErrorCase("TOML 1.1 \\e escape", #"a = "\e""#, 1, 6, "invalid escape sequence"),
        ErrorCase("TOML 1.1 \\x escape", #"a = "\x41""#, 1, 6, "invalid escape sequence"),
        ErrorCase("short \\u escape", #"a = "\u12""#, 1, 6, #"escape \u must be followed by exactly 4 hexadecimal digits"#),
        ErrorCase("short \\U escape", #"a = "\U0001F60""#, 1, 6, #"escape \U must be followed by exactly 8"#),
        ErrorCase("surrogate \\u escape", #"a = "\uD800""#, 1, 6, "not a valid Unicode scalar value"),
        ErrorCase("out of range \\U escape", #"a = "\U00110000""#, 1, 6, "not a valid Unicode scalar value"),
        ErrorCase("escape in multi-line string", "a = \"\"\"\nok\n \\z\"\"\"", 3, 2, #"invalid escape sequence '\z'"#),
        ErrorCase("backslash-space not at end of line", #"a = """\ x""""#, 1, 8, #"invalid escape sequence '\ '"#),
        ErrorCase("escape in literal is literal, quote ends it", #"a = 'x\'y'"#, 1, 9, "expected end of line after value, found 'y'"),
        ErrorCase("too many closing quotes", "a = \"\"\"x\"\"\"\"\"\"", 1, 14, "expected end of line after value, found '\"'"),
    ]

    @Test(arguments: strings)
    func stringErrors(_ c: ErrorCase) {
        check(c)
    }

    static let numbers: [ErrorCase] = [
        ErrorCase("integer overflow", "a = 9223372036854775808", 1, 5,
                  "integer '9223372036854775808' is out of range for a 64-bit signed integer"),
        ErrorCase("negative integer overflow", "a = -9223372036854775809", 1, 5, "out of range"),
        ErrorCase("huge integer", "a = 123456789012345678901234567890", 1, 5, "out of range"),
        ErrorCase("hex overflow", "a = 0x8000000000000000", 1, 5, "out of range"),
        ErrorCase("binary overflow", "a = 0b1\(String(repeating: "0", count: 63))", 1, 5, "out of range"),
        ErrorCase("leading zero", "a = 0123", 1, 5, "invalid number '0123': leading zeros are not allowed"),
        ErrorCase("leading zero with sign", "a = -01", 1, 5, "leading zeros"),
        ErrorCase("leading zeros via underscore", "a = 0_0", 1, 5, "leading zeros"),
        ErrorCase("double underscore", "a = 1__2", 1, 5, "underscores must be between digits"),
        ErrorCase("trailing underscore", "a = 1_", 1, 5, "underscores must be between digits"),
        ErrorCase("leading underscore", "a = _1", 1, 5, "invalid value '_1'"),
        ErrorCase("underscore after prefix", "a = 0x_1", 1, 5, "underscores must be between digits"),
        ErrorCase("sign on hex", "a = +0x1", 1, 5, "a sign is not allowed on hexadecimal, octal or binary integers"),
        ErrorCase("uppercase prefix", "a = 0X1F", 1, 5, "invalid number '0X1F'"),
        ErrorCase("bad binary digit", "a = 0b102", 1, 5, "invalid binary integer '0b102'"),
        ErrorCase("bad octal digit", "a = 0o8", 1, 5, "expected digits after '0o'"),
        ErrorCase("empty hex", "a = 0x", 1, 5, "expected digits after '0x'"),
        ErrorCase("double sign", "a = ++1", 1, 5, "invalid number '++1'"),
        ErrorCase("float without integer part", "a = .7", 1, 5, "invalid number '.7'"),
        ErrorCase("float without fraction digits", "a = 7.", 1, 5, "expected digits after the decimal point"),
        ErrorCase("float without fraction before exponent", "a = 3.e+20", 1, 5, "expected digits after the decimal point"),
        ErrorCase("float with two points", "a = 1.2.3", 1, 5, "invalid number '1.2.3'"),
        ErrorCase("missing exponent", "a = 1e", 1, 5, "expected exponent digits"),
        ErrorCase("exponent sign only", "a = 1e+", 1, 5, "expected exponent digits"),
        ErrorCase("float leading zero", "a = 01.5", 1, 5, "leading zeros"),
        ErrorCase("underscore before point", "a = 1_.5", 1, 5, "underscores must be between digits"),
        ErrorCase("underscore after point", "a = 1._5", 1, 5, "underscores must be between digits"),
        ErrorCase("float overflow", "a = 1e400", 1, 5, "out of range for a 64-bit float"),
        ErrorCase("capitalized inf", "a = Inf", 1, 5, "invalid value 'Inf'"),
        ErrorCase("inf with exponent", "a = inf1", 1, 5, "invalid value 'inf1'"),
        ErrorCase("capitalized boolean", "a = True", 1, 5, "invalid value 'True'"),
        ErrorCase("truncated boolean", "a = tru", 1, 5, "invalid value 'tru'"),
        ErrorCase("bare word value", "a = yes", 1, 5, "invalid value 'yes' (expected a string, number, boolean, date-time, array or inline table)"),
    ]

    @Test(arguments: numbers)
    func numberAndBooleanErrors(_ c: ErrorCase) {
        check(c)
    }

    static let datetimes: [ErrorCase] = [
        ErrorCase("February 29 in a common year", "d = 2001-02-29", 1, 13, "day 29 is out of range for 2001-02"),
        ErrorCase("February 29 in 1900", "d = 1900-02-29T00:00:00Z", 1, 13, "day 29 is out of range"),
        ErrorCase("day 31 in April", "d = 1979-04-31", 1, 13, "day 31 is out of range"),
        ErrorCase("day zero", "d = 1979-04-00", 1, 13, "day 00 is out of range"),
        ErrorCase("month 13", "d = 1979-13-01", 1, 10, "month must be between 01 and 12"),
        ErrorCase("month zero", "d = 1979-00-01", 1, 10, "month must be between 01 and 12"),
        ErrorCase("hour 24", "d = 1979-05-27T24:00:00", 1, 16, "hour must be between 00 and 23"),
        ErrorCase("minute 60", "t = 07:60:00", 1, 8, "minute must be between 00 and 59"),
        ErrorCase("second 61", "t = 07:32:61", 1, 11, "second must be between 00 and 60"),
        ErrorCase("seconds are required", "t = 07:32", 1, 10, "expected ':' after minute (seconds are required)"),
        ErrorCase("seconds are required in date-time", "d = 1979-05-27T07:32Z", 1, 21, "seconds are required"),
        ErrorCase("single-digit month", "d = 1979-5-27", 1, 11, "expected 2-digit month, found '-'"),
        ErrorCase("single-digit hour", "d = 1979-05-27T7:32:00", 1, 17, "expected 2-digit hour, found ':'"),
        ErrorCase("offset hour out of range", "d = 1979-05-27T07:32:00+24:00", 1, 25, "invalid time offset: hour"),
        ErrorCase("offset minute out of range", "d = 1979-05-27T07:32:00-07:60", 1, 28, "invalid time offset: minute"),
        ErrorCase("offset without colon", "d = 1979-05-27T07:32:00+0700", 1, 27, "expected ':' in time offset"),
        ErrorCase("offset on local time", "t = 07:32:00Z", 1, 13, "invalid date-time '07:32:00Z...'"),
        ErrorCase("empty fraction", "d = 1979-05-27T07:32:00.Z", 1, 25, "expected digits after '.'"),
        ErrorCase("trailing T", "d = 1979-05-27T", 1, 16, "expected 2-digit hour, found end of input"),
        ErrorCase("garbage after date", "d = 1979-05-27x", 1, 15, "invalid date-time '1979-05-27x...'"),
        ErrorCase("five-digit year", "d = 10000-01-01", 1, 5, "invalid number '10000-01-01'"),
        ErrorCase("date then bad time after space", "d = 1979-05-27 07:32", 1, 21, "seconds are required"),
    ]

    @Test(arguments: datetimes)
    func dateTimeErrors(_ c: ErrorCase) {
        check(c)
    }

    static let syntax: [ErrorCase] = [
        ErrorCase("missing equals", "key value", 1, 5, "expected '=' after key 'key', found 'v'"),
        ErrorCase("missing equals in table", "[x]\nname \"joe\"", 2, 6, "expected '=' after key 'name', found '\"'"),
        ErrorCase("key alone on a line", "a = 1\nb\nc = 2", 2, 2, "expected '=' after key 'b', found end of line"),
        ErrorCase("key at end of input", "a.b", 1, 4, "expected '=' after key 'a.b', found end of input"),
        ErrorCase("equals on next line", "a\n= 1", 1, 2, "expected '='"),
        ErrorCase("missing value", "a = \nb = 1", 1, 5, "expected a value, found end of line"),
        ErrorCase("missing value at end of input", "a =", 1, 4, "expected a value, found end of input"),
        ErrorCase("missing value before comment", "a = # no", 1, 5, "expected a value, found '#'"),
        ErrorCase("two values on a line", "a = 1 b = 2", 1, 7, "expected end of line after value, found 'b'"),
        ErrorCase("two strings", "a = \"x\" \"y\"", 1, 9, "expected end of line after value, found '\"'"),
        ErrorCase("garbage after array", "\na = [1] x", 2, 9, "expected end of line after value, found 'x'"),
        ErrorCase("garbage after inline table", "a = {} ,", 1, 8, "expected end of line after value, found ','"),
        ErrorCase("garbage after header", "[t] x = 1", 1, 5, "expected end of line after table header, found 'x'"),
        ErrorCase("extra bracket after header", "[a]]", 1, 4, "expected end of line after table header, found ']'"),
        ErrorCase("missing key", "= 1", 1, 1, "expected a key, found '='"),
        ErrorCase("empty dotted key part", "a. = 1", 1, 4, "expected a key, found '='"),
        ErrorCase("leading dot", ".a = 1", 1, 1, "expected a key, found '.'"),
        ErrorCase("space inside bare key", "a b = 1", 1, 3, "expected '=' after key 'a', found 'b'"),
        ErrorCase("invalid bare key character", "a$ = 1", 1, 2, "expected '=' after key 'a', found '$'"),
        ErrorCase("non-ASCII bare key", "ключ = 1", 1, 1, "expected a key, found 'к' (U+043A)"),
        ErrorCase("multi-line key", "\"\"\"k\"\"\" = 1", 1, 1, "multi-line strings cannot be used as keys"),
        ErrorCase("multi-line literal key", "'''k''' = 1", 1, 1, "multi-line strings cannot be used as keys"),
        ErrorCase("BOM in the middle", "a = 1\n\u{FEFF}b = 2", 2, 1, "expected a key, found U+FEFF"),
        ErrorCase("empty table header", "[]", 1, 2, "expected a key, found ']'"),
        ErrorCase("unclosed table header", "[a", 1, 3, "expected ']' to close table header, found end of input"),
        ErrorCase("space in table header", "[a b]", 1, 4, "expected ']' to close table header, found 'b'"),
        ErrorCase("unclosed array-of-tables header", "[[a]\nx = 1", 1, 5, "expected ']]' to close array-of-tables header, found end of line"),
        ErrorCase("spaced array-of-tables brackets", "[[a] ]", 1, 5, "expected ']]' to close array-of-tables header, found space"),
        ErrorCase("split array-of-tables opener", "[ [a]]", 1, 3, "expected a key, found '['"),
        ErrorCase("trailing dot in header", "[a.]", 1, 4, "expected a key, found ']'"),
        ErrorCase("unterminated array", "a = [1, 2", 1, 5, "unterminated array (missing ']')"),
        ErrorCase("unterminated multi-line array", "a = [\n  1,\n  2,\n", 1, 5, "unterminated array"),
        ErrorCase("missing comma in array", "a = [1 2]", 1, 8, "expected ',' or ']' after array element, found '2'"),
        ErrorCase("double comma in array", "a = [1,,2]", 1, 8, "expected a value, found ','"),
        ErrorCase("leading comma in array", "a = [,]", 1, 6, "expected a value, found ','"),
        ErrorCase("key/value in array", "a = [b = 1]", 1, 6, "invalid value 'b'"),
        ErrorCase("inline table trailing comma", "a = {b = 1,}", 1, 12, "trailing comma is not allowed in an inline table"),
        ErrorCase("inline table newline", "a = {b = 1\n}", 1, 11, "newlines are not allowed in an inline table"),
        ErrorCase("inline table newline after comma", "a = {b = 1,\nc = 2}", 1, 12, "newlines are not allowed in an inline table"),
        ErrorCase("inline table comment", "a = {b = 1 # c\n}", 1, 12, "comments are not allowed in an inline table"),
        ErrorCase("unterminated inline table", "a = {b = 1", 1, 5, "unterminated inline table (missing '}')"),
        ErrorCase("inline table missing comma", "a = {b = 1 c = 2}", 1, 12, "expected ',' or '}' in inline table, found 'c'"),
        ErrorCase("inline table missing equals", "a = {b}", 1, 7, "expected '=' after key 'b', found '}'"),
        ErrorCase("inline table empty comma", "a = {,}", 1, 6, "expected a key, found ','"),
        ErrorCase("inline table missing value", "a = {b = }", 1, 10, "expected a value, found '}'"),
    ]

    @Test(arguments: syntax)
    func syntaxErrors(_ c: ErrorCase) {
        check(c)
    }

    @Test func columnsCountUnicodeScalarsAndTabs() throws {
        let error = try #require(parseError("k = \"é😀\"\t!"))
        #expect(error.line == 1)
        #expect(error.column == 10)
        #expect(error.message == "expected end of line after value, found '!'")
    }

    @Test func errorLineInLongDocument() throws {
        var doc = ""
        for i in 0..<500 {
            doc += "key\(i) = \(i)\r\n"
        }
        doc += "broken = [1,\n2,\n3 4]\n"
        let error = try #require(parseError(doc))
        #expect(error.line == 503)
        #expect(error.column == 3)
    }

    @Test func deepNestingIsRejectedNotCrashing() throws {
        let depth = 100_000
        let arrays = try #require(parseError("a = " + String(repeating: "[", count: depth)))
        #expect(arrays.message.contains("nested too deeply"))
        #expect(arrays.line == 1)

        let tables = try #require(parseError("a = " + String(repeating: "{b = ", count: depth)))
        #expect(tables.message.contains("nested too deeply"))

        let header = try #require(parseError("[" + Array(repeating: "a", count: depth).joined(separator: ".") + "]"))
        #expect(header.message.contains("too many components"))

        let dotted = try #require(parseError(Array(repeating: "a", count: depth).joined(separator: ".") + " = 1"))
        #expect(dotted.message.contains("too many components"))

        let combined = try #require(parseError(
            "[" + Array(repeating: "t", count: 100).joined(separator: ".") + "]\n"
                + Array(repeating: "k", count: 20).joined(separator: ".") + " = [[[[[[[[[[1]]]]]]]]]]"))
        #expect(combined.line == 2)
        #expect(combined.message.contains("nested too deeply"))

        // Reasonable nesting still works.
        let ok = try TOML.parse("a = " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100))
        #expect(ok["a"]?.typeName == "array")
    }
}
