import Testing
import TOML

/// Parses `text` and returns the value stored under the root key `key`.
func value(_ text: String, _ key: String = "v") throws -> TOMLValue? {
    try TOML.parse(text)[key]
}

/// Parses `text`, expecting failure, and returns the error (or `nil` if it parsed).
func parseError(_ text: String) -> TOMLError? {
    do {
        _ = try TOML.parse(text)
        return nil
    } catch {
        return error
    }
}

/// A compact, deterministic rendering of a value used to compare whole
/// structures: strings are Swift-debug-quoted, floats always contain a `.`,
/// `e`, `inf` or `nan`, date-times are written `dt(...)`, and tables keep
/// document order.
func render(_ value: TOMLValue) -> String {
    switch value {
    case .string(let s): return s.debugDescription
    case .integer(let i): return String(i)
    case .float(let d): return d.isNaN ? "nan" : String(d)
    case .boolean(let b): return String(b)
    case .datetime(let s): return "dt(\(s))"
    case .array(let items): return "[" + items.map(render).joined(separator: ", ") + "]"
    case .table(let t): return render(t)
    }
}

func render(_ table: TOMLTable) -> String {
    let parts = table.entries.map { entry -> String in
        let bare = !entry.key.isEmpty && entry.key.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
        }
        return (bare ? entry.key : entry.key.debugDescription) + " = " + render(entry.value)
    }
    return "{" + parts.joined(separator: ", ") + "}"
}

/// Parses `text` and renders the root table.
func rendered(_ text: String) throws -> String {
    render(try TOML.parse(text))
}

/// Deterministic pseudo-random generator (SplitMix64) so fuzz runs are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
