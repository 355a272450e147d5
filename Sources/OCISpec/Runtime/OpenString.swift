/// A string-valued field of the OCI runtime spec whose known values the spec lists (namespace types,
/// seccomp actions, container statuses, …), modelled as an open set: the known values are static
/// constants, and any other string decodes and re-encodes unchanged, so a value added by a later spec
/// (or a runtime extension) never makes decoding fail.
///
/// Conforming types are written as string literals (`"pid"`) or as constants (`.pid`), and encode as
/// a bare JSON string.
public protocol OCIOpenString: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral,
    CustomStringConvertible where RawValue == String {
    init(rawValue: String)
}

extension OCIOpenString {
    public init(_ rawValue: String) { self.init(rawValue: rawValue) }
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
