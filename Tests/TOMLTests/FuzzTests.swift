import Testing
import TOML

@Suite("Robustness")
struct FuzzTests {
    /// A valid document exercising every feature; mutations of it hit every code path.
    static let seedDocument = #"""
        # fasco configuration
        title = "TOML \"fuzz\" seed\t\u00e9\U0001F600"
        literal = 'C:\path\to'
        multi = """
        Roses are red \
           Violets are blue ""
        """
        raw = '''
        no \escapes '' here'''
        int = +1_000
        hex = 0xdead_BEEF
        oct = 0o755
        bin = 0b1010
        neg = -9223372036854775808
        flt = -6.626e-34
        big = 224_617.445_991_228
        specials = [inf, -inf, nan, +nan]
        yes = true
        odt = 1979-05-27T00:32:00.999999-07:00
        ldt = 1979-05-27 07:32:00
        ld = 2000-02-29
        lt = 07:32:00.5
        "quoted key" = 1
        'lit.key' = 2
        dotted.a.b = [1, "two", 3.0, [4], { five = 5 }]
        inline = { x = 1, y.z = "w", arr = [ { a = 1 }, {} ] }
        arr = [
          1, # one
          2,
        ]

        [server]
        host = "localhost"
        port = 8080

        [server."sub.table".deep]
        ok = true

        [[clients]]
        name = "a"
        [clients.meta]
        k = 'v'

        [[clients]]
        name = "b"
        [[clients.nested]]
        n = 1

        [x.y.z]
        [x]
        w = 1
        """#

    static let alphabet: [Unicode.Scalar] = [
        "\"", "'", "[", "]", "{", "}", "=", ".", ",", "#", "\\", "\n", "\r", "\t", " ",
        "0", "1", "9", "x", "o", "b", "e", "E", "_", "+", "-", ":", "T", "Z", "u", "U",
        "a", "n", "i", "f", "\u{0}", "\u{7F}", "\u{1F}", "é", "😀", "\u{FEFF}", "\u{2028}",
    ]

    static func mutate(_ source: [Unicode.Scalar], using rng: inout SplitMix64) -> [Unicode.Scalar] {
        var s = source
        let count = Int.random(in: 1...4, using: &rng)
        for _ in 0..<count {
            let position = s.isEmpty ? 0 : Int.random(in: 0..<s.count, using: &rng)
            switch Int.random(in: 0..<8, using: &rng) {
            case 0:  // delete a scalar
                if !s.isEmpty { s.remove(at: position) }
            case 1:  // insert a scalar
                s.insert(alphabet.randomElement(using: &rng) ?? " ", at: position)
            case 2:  // replace a scalar
                if !s.isEmpty { s[position] = alphabet.randomElement(using: &rng) ?? " " }
            case 3:  // duplicate a short run
                let end = min(s.count, position + Int.random(in: 1...12, using: &rng))
                s.insert(contentsOf: s[position..<end], at: position)
            case 4:  // delete a short run
                let end = min(s.count, position + Int.random(in: 1...12, using: &rng))
                s.removeSubrange(position..<end)
            case 5:  // truncate
                s.removeSubrange(position..<s.count)
            case 6:  // insert a random scalar from anywhere in Unicode
                let value = UInt32.random(in: 0...0x10FFFF, using: &rng)
                s.insert(Unicode.Scalar(value) ?? "\u{FFFD}", at: position)
            default:  // move a short run elsewhere
                let end = min(s.count, position + Int.random(in: 1...20, using: &rng))
                let run = Array(s[position..<end])
                s.removeSubrange(position..<end)
                let target = s.isEmpty ? 0 : Int.random(in: 0...s.count, using: &rng)
                s.insert(contentsOf: run, at: target)
            }
        }
        return s
    }

    @Test func seedDocumentIsValid() throws {
        let t = try TOML.parse(Self.seedDocument)
        #expect(t.keys.count == 25)
        #expect(t["multi"] == .string("Roses are red Violets are blue \"\"\n"))
        #expect(t["raw"] == .string("no \\escapes '' here"))
    }

    @Test func mutatedDocumentsNeverCrash() {
        var rng = SplitMix64(seed: 0x5EED_70B1)
        let seed = Array(Self.seedDocument.unicodeScalars)
        var parsed = 0
        var failed = 0
        for _ in 0..<2000 {
            let mutated = Self.mutate(seed, using: &rng)
            let text = String(String.UnicodeScalarView(mutated))
            let lineCount = text.unicodeScalars.filter { $0 == "\n" }.count + 1
            do {
                let table = try TOML.parse(text)
                parsed += 1
                // Parsing is deterministic.
                #expect((try? TOML.parse(text)) == table || containsNaN(.table(table)))
            } catch {
                failed += 1
                #expect(error.line >= 1 && error.line <= lineCount, "\(error)")
                #expect(error.column >= 1, "\(error)")
                #expect(!error.message.isEmpty)
            }
        }
        #expect(parsed + failed == 2000)
        // Both outcomes must actually be exercised for the test to mean anything.
        #expect(parsed > 50)
        #expect(failed > 500)
    }

    @Test func randomGarbageNeverCrashes() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<1000 {
            let length = Int.random(in: 0...80, using: &rng)
            var scalars: [Unicode.Scalar] = []
            for _ in 0..<length {
                scalars.append(Self.alphabet.randomElement(using: &rng) ?? " ")
            }
            let text = String(String.UnicodeScalarView(scalars))
            do {
                _ = try TOML.parse(text)
            } catch {
                #expect(error.line >= 1 && error.column >= 1)
            }
        }
    }

    @Test func everyPrefixOfTheSeedParsesOrFails() {
        // Truncation at every position exercises every "unexpected end of input" path.
        let seed = Array(Self.seedDocument.unicodeScalars)
        for end in 0...seed.count {
            let text = String(String.UnicodeScalarView(seed[0..<end]))
            do {
                _ = try TOML.parse(text)
            } catch {
                #expect(error.line >= 1 && error.column >= 1)
            }
        }
    }
}

func containsNaN(_ value: TOMLValue) -> Bool {
    switch value {
    case .float(let d): return d.isNaN
    case .array(let items): return items.contains(where: containsNaN)
    case .table(let t): return t.entries.contains { containsNaN($0.value) }
    default: return false
    }
}
