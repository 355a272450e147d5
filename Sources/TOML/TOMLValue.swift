/// A value in a parsed TOML document.
public indirect enum TOMLValue: Sendable, Equatable {
    /// A basic, multi-line basic, literal or multi-line literal string,
    /// with all escape sequences resolved.
    case string(String)
    /// A 64-bit signed integer (decimal, hexadecimal, octal or binary in the source).
    case integer(Int64)
    /// A 64-bit IEEE 754 floating-point number, including `inf` and `nan`.
    case float(Double)
    /// `true` or `false`.
    case boolean(Bool)
    /// An offset date-time, local date-time, local date or local time.
    ///
    /// The value is the exact source text (for example `1979-05-27T07:32:00Z`
    /// or `07:32:00.999`). Its shape and field ranges (month, day of month
    /// including leap years, hour, minute, second, offset) have been validated.
    case datetime(String)
    /// An array; TOML 1.0 allows elements of mixed types.
    case array([TOMLValue])
    /// A table: a standard `[table]`, an element of an `[[array of tables]]`,
    /// a table created through dotted keys, or an inline `{ ... }` table.
    case table(TOMLTable)

    /// The name of the value's type: `"string"`, `"integer"`, `"float"`,
    /// `"boolean"`, `"datetime"`, `"array"` or `"table"`.
    public var typeName: String {
        switch self {
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .boolean: return "boolean"
        case .datetime: return "datetime"
        case .array: return "array"
        case .table: return "table"
        }
    }
}

/// A TOML table: an ordered collection of uniquely named values.
public struct TOMLTable: Sendable, Equatable {
    /// One key/value pair of a table.
    public struct Entry: Sendable, Equatable {
        /// The key, unescaped (a quoted key `"a.b"` is the single key `a.b`).
        public var key: String
        /// The value stored under the key.
        public var value: TOMLValue
        /// The 1-based source line on which the key was defined.
        ///
        /// For a table this is the line of the `[header]` that defined it, or,
        /// if it was only ever created implicitly (by a longer header or by a
        /// dotted key), the line where it was first created. For an array of
        /// tables it is the line of the first `[[header]]`.
        public var line: Int
    }

    /// The entries of the table, in the order their keys first appear in the document.
    public private(set) var entries: [Entry]
    private var index: [String: Int]

    /// Creates an empty table.
    public init() {
        entries = []
        index = [:]
    }

    /// The value stored under `key`, or `nil` if the table has no such key.
    public subscript(key: String) -> TOMLValue? {
        guard let i = index[key], entries.indices.contains(i) else { return nil }
        return entries[i].value
    }

    /// The keys of the table, in document order.
    public var keys: [String] {
        entries.map(\.key)
    }

    /// Appends an entry. Keys are unique; a repeated key is ignored
    /// (the parser never produces one).
    mutating func append(key: String, value: TOMLValue, line: Int) {
        guard index[key] == nil else { return }
        index[key] = entries.count
        entries.append(Entry(key: key, value: value, line: line))
    }
}
