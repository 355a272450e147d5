import FascoCore

/// A wire-level fuzzer for gRPC request bodies: protobuf-shaped messages that are random,
/// mutated from valid seeds, truncated, oversized or nested deep. Deterministic for a seed
/// (SplitMix64), so a failure is reproduced by its seed and index. Used by the short fuzz run
/// in `make test` and the long one in `make bench BENCH=fuzz`.
public struct WireFuzzer: Sendable {
    private var generator: SplitMix64
    public var state: UInt64 { generator.state }

    public init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    public mutating func next() -> UInt64 { generator.next() }

    public mutating func below(_ bound: Int) -> Int { bound <= 1 ? 0 : Int(next() % UInt64(bound)) }

    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    /// One request body: a mutation of one of `seeds` (valid encodings) or a message made up.
    public mutating func message(seeds: [[UInt8]]) -> [UInt8] {
        switch below(10) {
        case 0..<4 where !seeds.isEmpty: return mutate(seeds[below(seeds.count)])
        case 4: return deep(depth: 50 + below(400))
        case 5: return (0..<below(64)).map { _ in UInt8(truncatingIfNeeded: next()) }
        default: return random(depth: 0)
        }
    }

    public static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var out: [UInt8] = []
        repeat {
            var byte = UInt8(value & 0x7f)
            value >>= 7
            if value != 0 { byte |= 0x80 }
            out.append(byte)
        } while value != 0
        return out
    }

    static func key(_ field: UInt64, _ wireType: UInt64) -> [UInt8] { varint(field << 3 | wireType) }

    /// A message of random fields: low field numbers (where CRI's fields are), every wire type,
    /// strings valid and not, nested messages, repeated keys, lengths that lie.
    mutating func random(depth: Int) -> [UInt8] {
        var out: [UInt8] = []
        for _ in 0..<(1 + below(8)) {
            let field = UInt64(chance(90) ? 1 + below(20) : below(1 << 29))
            switch below(7) {
            case 0: out += Self.key(field, 0) + Self.varint(chance(50) ? UInt64(below(300)) : next())
            case 1: out += Self.key(field, 1) + (0..<8).map { _ in UInt8(truncatingIfNeeded: next()) }
            case 2: out += Self.key(field, 5) + (0..<4).map { _ in UInt8(truncatingIfNeeded: next()) }
            case 3 where depth < 6:
                let inner = random(depth: depth + 1)
                out += Self.key(field, 2) + Self.varint(UInt64(inner.count)) + inner
            case 4:
                let text = string()
                out += Self.key(field, 2) + Self.varint(UInt64(text.count)) + text
            case 5:
                // A length that claims more than there is, or an absurd one.
                out += Self.key(field, 2) + Self.varint(chance(50) ? UInt64(1 << 31) : UInt64(10 + below(100))) + [1, 2, 3]
            default:
                out += Self.key(field, UInt64(3 + below(5)))  // groups and invalid wire types
            }
        }
        return out
    }

    /// Text of the shapes that matter: paths, traversals, NUL, invalid UTF-8, long.
    mutating func string() -> [UInt8] {
        let samples: [[UInt8]] = [
            Array("../../etc/passwd".utf8), Array("/".utf8), [], Array("a\u{0}b".utf8), [0xff, 0xfe, 0xc0],
            Array("busybox:latest".utf8), Array("fasco.local/busybox:latest".utf8), Array("sha256:".utf8),
            Array(String(repeating: "x", count: 5000).utf8), Array("name".utf8), Array("/tmp/x".utf8),
        ]
        var text = samples[below(samples.count)]
        if chance(20) { text += (0..<below(32)).map { _ in UInt8(truncatingIfNeeded: next()) } }
        return text
    }

    /// Nested length-delimited fields `depth` deep (field 1 at each level).
    mutating func deep(depth: Int) -> [UInt8] {
        var inner: [UInt8] = []
        for _ in 0..<depth { inner = Self.key(1, 2) + Self.varint(UInt64(inner.count)) + inner }
        return inner
    }

    /// A valid message with a few bytes changed, cut short, grown or spliced.
    mutating func mutate(_ seed: [UInt8]) -> [UInt8] {
        var bytes = seed
        for _ in 0..<(1 + below(4)) {
            switch below(5) {
            case 0 where !bytes.isEmpty: bytes[below(bytes.count)] = UInt8(truncatingIfNeeded: next())
            case 1 where !bytes.isEmpty: bytes = Array(bytes.prefix(below(bytes.count)))
            case 2: bytes.insert(contentsOf: random(depth: 3), at: below(bytes.count + 1))
            case 3 where !bytes.isEmpty: bytes[below(bytes.count)] ^= 0x80
            default: bytes += random(depth: 2)
            }
        }
        return bytes
    }
}
