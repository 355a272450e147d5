import FascoCore

/// A realm's identifier: 64 lower-case hex characters, as CRI IDs are.
public struct RealmID: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public let value: String

    /// A fresh random ID.
    public static func generate() -> RealmID {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<4).map { _ -> String in
            let text = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }.joined()
        return RealmID(unchecked: hex)
    }

    /// Parses a full ID; anything else is INVALID_ARGUMENT.
    public init(parsing text: String) throws(FascoError) {
        guard Self.isValid(text) else { throw .invalidArgument("\(text.prefix(100)) is not a 64-character hex ID") }
        value = text
    }

    init(unchecked value: String) { self.value = value }

    static func isValid(_ text: String) -> Bool {
        text.utf8.count == 64 && isHex(text)
    }

    static func isHex(_ text: String) -> Bool {
        text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    public var description: String { value }
    /// The 12-character form tools print.
    public var short: String { String(value.prefix(12)) }

    public static func < (lhs: RealmID, rhs: RealmID) -> Bool { lhs.value < rhs.value }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = try RealmID(parsing: text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// Resolves full IDs or unique prefixes (as crictl users type them) against a set of IDs.
public struct IDIndex: Sendable {
    private var ids: Set<RealmID> = []

    public init() {}

    public mutating func insert(_ id: RealmID) { ids.insert(id) }
    public mutating func remove(_ id: RealmID) { ids.remove(id) }
    public func contains(_ id: RealmID) -> Bool { ids.contains(id) }
    public var all: [RealmID] { ids.sorted() }

    /// The one ID `text` names: itself, or the only ID it prefixes.
    /// Nil when nothing matches; an ambiguous prefix is INVALID_ARGUMENT.
    public func resolve(_ text: String) throws(FascoError) -> RealmID? {
        guard !text.isEmpty, text.utf8.count <= 64, RealmID.isHex(text) else { return nil }
        if text.utf8.count == 64 {
            let id = RealmID(unchecked: text)
            return ids.contains(id) ? id : nil
        }
        let matches = ids.filter { $0.value.hasPrefix(text) }
        guard matches.count <= 1 else {
            throw .invalidArgument("ID prefix \(text) is ambiguous: it matches \(matches.count) IDs")
        }
        return matches.first
    }
}
