import Testing
import TOML

@Suite("Keys, tables, arrays, inline tables")
struct StructureTests {
    @Test func commentsAndBlankLines() throws {
        let doc = """
            # This is a full-line comment
            key = "value"  # This is a comment at the end of a line
            another = "# This is not a comment"

            \t  # indented comment
            [t] # comment after header
            x = 1#no space
            """
        #expect(try rendered(doc) == ##"{key = "value", another = "# This is not a comment", t = {x = 1}}"##)
    }

    @Test func bareQuotedAndEmptyKeys() throws {
        let doc = #"""
            key = "value"
            bare_key = "value"
            bare-key = "value"
            1234 = "value"
            "127.0.0.1" = "value"
            "character encoding" = "value"
            "ʎǝʞ" = "value"
            'key2' = "value"
            'quoted "value"' = "value"
            "" = "blank"
            "a\tb" = "escaped key"
            true = 1
            inf = 2
            """#
        let t = try TOML.parse(doc)
        #expect(t.keys == [
            "key", "bare_key", "bare-key", "1234", "127.0.0.1", "character encoding", "ʎǝʞ",
            "key2", "quoted \"value\"", "", "a\tb", "true", "inf",
        ])
        #expect(t[""] == .string("blank"))
        #expect(t["a\tb"] == .string("escaped key"))
        #expect(t["true"] == .integer(1))
        #expect(t["missing"] == nil)
    }

    @Test func dottedKeys() throws {
        let doc = #"""
            name = "Orange"
            physical.color = "orange"
            physical.shape = "round"
            site."google.com" = true
            fruit . flavor = "sweet"
            fruit	.	'skin' = "thin"
            3.14159 = "pi"
            a.b.c.d = 1
            a.b.e = 2
            """#
        #expect(try rendered(doc) == """
            {name = "Orange", physical = {color = "orange", shape = "round"}, site = {"google.com" = true}, \
            fruit = {flavor = "sweet", skin = "thin"}, 3 = {14159 = "pi"}, a = {b = {c = {d = 1}, e = 2}}}
            """)
    }

    @Test func tables() throws {
        let doc = #"""
            [table-1]
            key1 = "some string"
            key2 = 123

            [table-2]
            key1 = "another string"
            key2 = 456

            [dog."tater.man"]
            type.name = "pug"

            [ j . "ʞ" . 'l' ]
            k = 7

            [empty]
            """#
        #expect(try rendered(doc) == """
            {table-1 = {key1 = "some string", key2 = 123}, table-2 = {key1 = "another string", key2 = 456}, \
            dog = {"tater.man" = {type = {name = "pug"}}}, j = {"ʞ" = {l = {k = 7}}}, empty = {}}
            """)
    }

    @Test func implicitSuperTablesMayBeDefinedLater() throws {
        let doc = """
            [x.y.z.w]
            a = 1
            [x]
            c = 3
            [x.y.other]
            d = 4
            """
        #expect(try rendered(doc) == "{x = {y = {z = {w = {a = 1}}, other = {d = 4}}, c = 3}}")
    }

    @Test func subTablesOfDottedTablesMayUseHeaders() throws {
        let doc = """
            [fruit]
            apple.color = "red"
            apple.taste.sweet = true

            [fruit.apple.texture]
            smooth = true

            [[fruit.apple.seeds]]
            size = 2
            """
        #expect(try rendered(doc) == """
            {fruit = {apple = {color = "red", taste = {sweet = true}, texture = {smooth = true}, seeds = [{size = 2}]}}}
            """)
    }

    @Test func arrays() throws {
        let doc = """
            integers = [ 1, 2, 3 ]
            colors = [ "red", "yellow", "green" ]
            nested_arrays_of_ints = [ [ 1, 2 ], [3, 4, 5] ]
            nested_mixed_array = [ [ 1, 2 ], ["a", "b", "c"] ]
            string_array = [ "all", 'strings', \"\"\"are the same\"\"\", '''type''' ]
            numbers = [ 0.1, 0.2, 0.5, 1, 2, 5 ]
            contributors = [
              "Foo Bar <foo@example.com>",
              { name = "Baz Qux", email = "bazqux@example.com", url = "https://example.com/bazqux" }
            ]
            empty = []
            empty2 = [ # comment
            ]
            trailing = [1, 2,]
            multi = [
              1, # one
              2,
              # a comment on its own line

              3,
            ]
            crlf = [\r\n  1,\r\n  2\r\n]
            """
        #expect(try rendered(doc) == """
            {integers = [1, 2, 3], colors = ["red", "yellow", "green"], nested_arrays_of_ints = [[1, 2], [3, 4, 5]], \
            nested_mixed_array = [[1, 2], ["a", "b", "c"]], string_array = ["all", "strings", "are the same", "type"], \
            numbers = [0.1, 0.2, 0.5, 1, 2, 5], contributors = ["Foo Bar <foo@example.com>", \
            {name = "Baz Qux", email = "bazqux@example.com", url = "https://example.com/bazqux"}], \
            empty = [], empty2 = [], trailing = [1, 2], multi = [1, 2, 3], crlf = [1, 2]}
            """)
    }

    @Test func inlineTables() throws {
        let doc = """
            name = { first = "Tom", last = "Preston-Werner" }
            point = { x = 1, y = 2 }
            animal = { type.name = "pug" }
            empty = {}
            spaced = {   }
            nested = { a = { b = { c = 1 } }, d = [ { e = 2 }, {} ] }
            multiline_value = { list = [
              1,
              2,
            ], s = \"\"\"
            x\"\"\" }
            points = [ { x = 1, y = 2, z = 3 },
                       { x = 7, y = 8, z = 9 } ]
            """
        #expect(try rendered(doc) == """
            {name = {first = "Tom", last = "Preston-Werner"}, point = {x = 1, y = 2}, animal = {type = {name = "pug"}}, \
            empty = {}, spaced = {}, nested = {a = {b = {c = 1}}, d = [{e = 2}, {}]}, \
            multiline_value = {list = [1, 2], s = "x"}, points = [{x = 1, y = 2, z = 3}, {x = 7, y = 8, z = 9}]}
            """)
    }

    @Test func arraysOfTables() throws {
        let doc = """
            [[products]]
            name = "Hammer"
            sku = 738594937

            [[products]]  # empty table within the array

            [[products]]
            name = "Nail"
            sku = 284758393
            color = "gray"
            """
        #expect(try rendered(doc) == """
            {products = [{name = "Hammer", sku = 738594937}, {}, {name = "Nail", sku = 284758393, color = "gray"}]}
            """)
    }

    @Test func nestedArraysOfTablesAndSubtables() throws {
        let doc = """
            [[fruits]]
            name = "apple"

            [fruits.physical]  # subtable
            color = "red"
            shape = "round"

            [[fruits.varieties]]  # nested array of tables
            name = "red delicious"

            [[fruits.varieties]]
            name = "granny smith"

            [[fruits]]
            name = "banana"

            [[fruits.varieties]]
            name = "plantain"
            """
        #expect(try rendered(doc) == """
            {fruits = [{name = "apple", physical = {color = "red", shape = "round"}, \
            varieties = [{name = "red delicious"}, {name = "granny smith"}]}, \
            {name = "banana", varieties = [{name = "plantain"}]}]}
            """)
    }

    @Test func arrayOfTablesThenSuperTable() throws {
        let doc = """
            [[a.b]]
            x = 1
            [a]
            y = 2
            [[a.b]]
            x = 3
            [a.b.c]
            z = 4
            """
        #expect(try rendered(doc) == "{a = {b = [{x = 1}, {x = 3, c = {z = 4}}], y = 2}}")
    }

    @Test func entriesAreInDocumentOrderWithLines() throws {
        let doc = """
            title = "x"
            owner.name = "Tom"

            [servers.alpha]
            ip = "10.0.0.1"

            [[clients]]
            n = 1
            [[clients]]
            n = 2
            [servers]
            count = 1
            """
        let t = try TOML.parse(doc)
        #expect(t.keys == ["title", "owner", "servers", "clients"])
        #expect(t.entries.map(\.line) == [1, 2, 11, 7])
        guard case .table(let servers)? = t["servers"] else {
            Issue.record("servers is not a table")
            return
        }
        #expect(servers.entries.map(\.key) == ["alpha", "count"])
        #expect(servers.entries.map(\.line) == [4, 12])
        guard case .table(let alpha)? = servers["alpha"] else {
            Issue.record("alpha is not a table")
            return
        }
        #expect(alpha.entries.count == 1)
        #expect(alpha.entries.first?.key == "ip")
        #expect(alpha.entries.first?.value == .string("10.0.0.1"))
        #expect(alpha.entries.first?.line == 5)
    }

    @Test func byteOrderMarkAndLineEndings() throws {
        #expect(try rendered("\u{FEFF}a = 1\r\nb = 2\r\n") == "{a = 1, b = 2}")
        #expect(try rendered("a = 1") == "{a = 1}")
        #expect(try rendered("") == "{}")
        #expect(try rendered("\n\n# only comments\n") == "{}")
    }

    @Test func publicAPI() throws {
        let empty = TOMLTable()
        #expect(empty.entries.isEmpty)
        #expect(empty.keys.isEmpty)
        #expect(empty["x"] == nil)

        let t = try TOML.parse("""
            s = "a"
            i = 1
            f = 1.5
            b = true
            d = 1979-05-27
            a = []
            t = {}
            """)
        #expect(t.entries.map(\.value.typeName) == ["string", "integer", "float", "boolean", "datetime", "array", "table"])

        let error = try #require(parseError("a = 1\na = 2"))
        #expect(error.line == 2)
        #expect(error.column == 1)
        #expect(error.message == "duplicate key 'a' (first defined on line 1)")
        #expect(error.description == "line 2, column 1: duplicate key 'a' (first defined on line 1)")
        #expect(String(describing: error) == error.description)
        #expect(error == parseError("a = 1\na = 2"))
        #expect(error != parseError("a = 1\n\na = 2"))
    }

    @Test func parsesARealisticConfig() throws {
        let doc = #"""
            # fasco daemon configuration
            listen = "unix:///run/fasco.sock"
            log-level = 'info'

            [runtime]
            root = "/var/lib/fasco"
            max-containers = 1_000
            default-timeout = 2.5
            hooks.enabled = true
            hooks.dir = '/etc/fasco/hooks.d'

            [runtime.cgroups]
            driver = "systemd"
            limits = { cpu = 0.5, memory = 0x4000_0000 }

            [[registries]]
            host = "docker.io"
            mirrors = [
              "https://mirror.example.com", # primary
              "https://backup.example.com",
            ]

            [[registries]]
            host = "quay.io"
            insecure = false
            updated = 2024-01-02T03:04:05Z
            """#
        #expect(try rendered(doc) == """
            {listen = "unix:///run/fasco.sock", log-level = "info", runtime = {root = "/var/lib/fasco", \
            max-containers = 1000, default-timeout = 2.5, hooks = {enabled = true, dir = "/etc/fasco/hooks.d"}, \
            cgroups = {driver = "systemd", limits = {cpu = 0.5, memory = 1073741824}}}, \
            registries = [{host = "docker.io", mirrors = ["https://mirror.example.com", "https://backup.example.com"]}, \
            {host = "quay.io", insecure = false, updated = dt(2024-01-02T03:04:05Z)}]}
            """)
    }
}
