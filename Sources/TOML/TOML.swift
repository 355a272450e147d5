/// Namespace for the TOML 1.0 parser.
///
/// ```swift
/// let table = try TOML.parse(text)
/// if case .integer(let port)? = table["port"] { ... }
/// ```
public enum TOML {
    /// Parses a complete TOML 1.0 document.
    ///
    /// The parser never traps on malformed input: every problem is reported
    /// as a ``TOMLError`` pointing at the offending line and column.
    /// A leading byte-order mark is ignored. Newlines inside multi-line
    /// strings are normalized to `"\n"`.
    ///
    /// - Parameter text: The document source.
    /// - Returns: The root table.
    /// - Throws: ``TOMLError`` if the document is not valid TOML 1.0.
    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        var parser = Parser(text)
        return try parser.parseDocument()
    }
}
