import Testing
import TOML

@Suite("Strings")
struct StringTests {
    @Test func basicString() throws {
        let doc = #"v = "I'm a string. \"You can quote me\". Name\tJos\u00E9\nLocation\tSF.""#
        #expect(try value(doc) == .string("I'm a string. \"You can quote me\". Name\tJos\u{E9}\nLocation\tSF."))
    }

    @Test func allEscapes() throws {
        let doc = #"v = "\b|\t|\n|\f|\r|\"|\\|\u00e9|\U0001F600|\u0000""#
        #expect(try value(doc) == .string("\u{08}|\t|\n|\u{0C}|\r|\"|\\|\u{E9}|\u{1F600}|\u{0}"))
    }

    @Test func emptyStrings() throws {
        let doc = """
            a = ""
            b = ''
            c = \"\"\"\"\"\"
            d = ''''''
            """
        let t = try TOML.parse(doc)
        #expect(t["a"] == .string(""))
        #expect(t["b"] == .string(""))
        #expect(t["c"] == .string(""))
        #expect(t["d"] == .string(""))
    }

    @Test func tabAndUnicodeAllowedVerbatim() throws {
        #expect(try value("v = \"a\tb ✓ 😀\"") == .string("a\tb ✓ 😀"))
        #expect(try value("v = 'a\tb ✓ 😀'") == .string("a\tb ✓ 😀"))
    }

    @Test func multilineBasicTrimsFirstNewline() throws {
        let doc = "v = \"\"\"\nRoses are red\nViolets are blue\"\"\""
        #expect(try value(doc) == .string("Roses are red\nViolets are blue"))
    }

    @Test func multilineBasicLineEndingBackslash() throws {
        let doc = "v = \"\"\"\nThe quick brown \\\n\n\n  fox jumps over \\   \n    the lazy dog.\"\"\""
        #expect(try value(doc) == .string("The quick brown fox jumps over the lazy dog."))

        let doc2 = "v = \"\"\"\\\n       The quick brown \\\n       fox jumps over \\\n       the lazy dog.\\\n       \"\"\""
        #expect(try value(doc2) == .string("The quick brown fox jumps over the lazy dog."))
    }

    @Test func multilineBasicEscapesAndQuotes() throws {
        // Note: in a Swift raw string the closing `"##` consumes one quote.
        #expect(try value(##"v = """Here are two quotation marks: "". Simple enough.""""##)
            == .string(##"Here are two quotation marks: "". Simple enough."##))
        #expect(try value(##"v = """Here are three quotation marks: ""\".""""##)
            == .string(##"Here are three quotation marks: """."##))
        #expect(try value(##"v = """"This," she said, "is just a pointless statement."""""##)
            == .string(##""This," she said, "is just a pointless statement.""##))
        #expect(try value(##"v = """a\tb\u0041""""##) == .string("a\tbA"))
        #expect(try value("v = \"\"\"x\"\"\"\"") == .string("x\""))  // """x""""
        #expect(try value("v = \"\"\"x\"\"\"\"\"") == .string("x\"\""))  // """x"""""
        #expect(try value(##"v = """""x""""##) == .string(##"""x"##))
    }

    @Test func multilineNormalizesCRLF() throws {
        #expect(try value("v = \"\"\"\r\na\r\nb\"\"\"") == .string("a\nb"))
        #expect(try value("v = '''\r\na\r\nb'''") == .string("a\nb"))
        #expect(try value("v = \"\"\"a \\\r\n   b\"\"\"") == .string("a b"))
    }

    @Test func literalStrings() throws {
        let doc = #"""
            winpath  = 'C:\Users\nodejs\templates'
            winpath2 = '\\ServerX\admin$\system32\'
            quoted   = 'Tom "Dubs" Preston-Werner'
            regex    = '<\i\c*\s*>'
            """#
        let t = try TOML.parse(doc)
        #expect(t["winpath"] == .string(#"C:\Users\nodejs\templates"#))
        #expect(t["winpath2"] == .string(#"\\ServerX\admin$\system32\"#))
        #expect(t["quoted"] == .string(#"Tom "Dubs" Preston-Werner"#))
        #expect(t["regex"] == .string(#"<\i\c*\s*>"#))
    }

    @Test func multilineLiteralStrings() throws {
        let doc = "v = '''\nThe first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved. \\n\n'''"
        #expect(try value(doc) == .string("The first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved. \\n\n"))
        let fifteen = String(repeating: "\"", count: 15)
        #expect(try value("v = '''Here are fifteen quotation marks: \(fifteen)'''")
            == .string("Here are fifteen quotation marks: \(fifteen)"))
        #expect(try value(#"v = ''''That,' she said, 'is still pointless.''''"#)
            == .string("'That,' she said, 'is still pointless.'"))
        #expect(try value("v = '''I [dw]on't need \\d{2} apples'''") == .string("I [dw]on't need \\d{2} apples"))
    }
}
