import FascoCore

/// A seeded, reproducible generator (splitmix64) of the awkward values CRI
/// messages can carry: empty strings, non-ASCII text, extreme numbers, empty
/// and repeated collections, absent sub-messages.
struct TestRandom {
    private var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// True one time in `n`.
    mutating func chance(_ n: Int) -> Bool { below(n) == 0 }

    mutating func bool() -> Bool { next() & 1 == 1 }

    mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }

    private static let samples = [
        "", "a", "pod", "kube-system", "ünïcødé", "日本語", "emoji 🚀", " spaces and\ttabs\n",
        "registry.k8s.io/pause:3.10", String(repeating: "x", count: 300), "quote\"back\\slash",
    ]

    /// Text without NUL (C strings end there, so the wire cannot carry it through protobuf-c).
    mutating func string() -> String {
        if chance(3) { return pick(Self.samples) }
        let length = below(24)
        var scalars = String.UnicodeScalarView()
        for _ in 0..<length {
            let scalar: Unicode.Scalar? = switch below(4) {
            case 0: Unicode.Scalar(UInt32(0x4E00 + below(0x100)))
            case 1: Unicode.Scalar(UInt32(0x1F600 + below(0x40)))
            default: Unicode.Scalar(UInt32(0x20 + below(0x5F)))
            }
            if let scalar { scalars.append(scalar) }
        }
        return String(scalars)
    }

    mutating func bytes() -> [UInt8] {
        (0..<below(40)).map { _ in UInt8(truncatingIfNeeded: next()) }
    }

    mutating func number<T: FixedWidthInteger>(_: T.Type) -> T {
        switch below(5) {
        case 0: 0
        case 1: T.max
        case 2: T.min
        default: T(truncatingIfNeeded: next())
        }
    }

    mutating func number(_: Double.Type) -> Double {
        switch below(4) {
        case 0: 0
        case 1: -1.5e300
        case 2: .infinity
        default: Double(Int64(truncatingIfNeeded: next())) / 1024
        }
    }

    mutating func map() -> [String: String] {
        var result: [String: String] = [:]
        for _ in 0..<below(5) { result[string()] = string() }
        return result
    }

    mutating func array<T>(_ element: (inout TestRandom) -> T) -> [T] {
        var result: [T] = []
        for _ in 0..<below(4) { result.append(element(&self)) }
        return result
    }

    /// Whether an optional sub-message is present; deeper levels are sparser.
    mutating func present(_ depth: Int) -> Bool { depth < 6 && below(depth + 2) == 0 ? true : !chance(2) && depth < 3 }

    /// An enum number outside the known values (open enums must keep it).
    mutating func enumRaw(beyond highest: Int32) -> Int32 {
        chance(2) ? highest + 1 + Int32(below(1000)) : -1 - Int32(below(1000))
    }
}
