/// An error produced while parsing a TOML document.
///
/// Every error carries the 1-based `line` and `column` of the offending
/// position in the source text. Columns are counted in Unicode scalars
/// from the start of the line (a tab counts as one column).
public struct TOMLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The 1-based line number of the error.
    public var line: Int
    /// The 1-based column number of the error, counted in Unicode scalars.
    public var column: Int
    /// A human-readable explanation of what is wrong.
    public var message: String

    /// The error formatted as `"line L, column C: message"`.
    public var description: String {
        "line \(line), column \(column): \(message)"
    }
}
