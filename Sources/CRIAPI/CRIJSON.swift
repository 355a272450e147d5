import FoundationEssentials

/// A JSON (or YAML, converted) document as crictl's config files hold it, to decode CRI
/// messages from (`JSON.generated.swift`). Key order is kept; a repeated key keeps its last value.
public indirect enum CRIJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case unsigned(UInt64)
    case double(Double)
    case string(String)
    /// A plain YAML scalar, typed by the field it fills (as sigs.k8s.io/yaml does for crictl).
    case scalar(String)
    case array([CRIJSON])
    case object([(String, CRIJSON)])

    public static func == (lhs: CRIJSON, rhs: CRIJSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.integer(let a), .integer(let b)): a == b
        case (.unsigned(let a), .unsigned(let b)): a == b
        case (.double(let a), .double(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.scalar(let a), .scalar(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// Parses JSON text.
    public init(parsing bytes: [UInt8]) throws(CRIJSONError) {
        do { self = try JSONDecoder().decode(CRIJSON.self, from: Data(bytes)) } catch {
            throw CRIJSONError(path: "", message: "not JSON: \(error)")
        }
    }

    /// A string, or a plain YAML scalar's text.
    public var text: String? {
        switch self {
        case .string(let text), .scalar(let text): text
        default: nil
        }
    }

    /// How a key names a field: lower-cased, as Go's encoding/json matches case-insensitively.
    public static func fieldKey(_ key: String) -> String { key.lowercased() }

    public func object(at path: String) throws(CRIJSONError) -> [(String, CRIJSON)] {
        guard case .object(let entries) = self else { throw CRIJSONError(path: path, message: "must be an object") }
        return entries
    }

    public func array(at path: String) throws(CRIJSONError) -> [CRIJSON] {
        guard case .array(let items) = self else { throw CRIJSONError(path: path, message: "must be an array") }
        return items
    }

    public func stringMap(at path: String) throws(CRIJSONError) -> [String: String] {
        var map: [String: String] = [:]
        for (key, value) in try object(at: path) { map[key] = try String(json: value, at: path + "." + key) }
        return map
    }
}

extension CRIJSON: Decodable {
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        if let keyed = try? decoder.container(keyedBy: Key.self) {
            self = .object(try keyed.allKeys.map { ($0.stringValue, try keyed.decode(CRIJSON.self, forKey: $0)) })
            return
        }
        if var unkeyed = try? decoder.unkeyedContainer() {
            var items: [CRIJSON] = []
            while !unkeyed.isAtEnd { items.append(try unkeyed.decode(CRIJSON.self)) }
            self = .array(items)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() { self = .null }
        else if let value = try? single.decode(Bool.self) { self = .bool(value) }
        else if let value = try? single.decode(Int64.self) { self = .integer(value) }
        else if let value = try? single.decode(UInt64.self) { self = .unsigned(value) }
        else if let value = try? single.decode(Double.self) { self = .double(value) }
        else { self = .string(try single.decode(String.self)) }
    }
}

/// Where a config file does not fit the CRI message, and why.
public struct CRIJSONError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// A CRI message or field value decodable from crictl's JSON form.
public protocol CRIJSONDecodable {
    init(json: CRIJSON, at path: String) throws(CRIJSONError)
}

extension String: CRIJSONDecodable {
    public init(json: CRIJSON, at path: String) throws(CRIJSONError) {
        switch json {
        case .string(let value), .scalar(let value): self = value
        default: throw CRIJSONError(path: path, message: "must be a string")
        }
    }
}

extension Bool: CRIJSONDecodable {
    public init(json: CRIJSON, at path: String) throws(CRIJSONError) {
        switch json {
        case .bool(let value): self = value
        case .scalar("true"), .scalar("True"), .scalar("TRUE"): self = true
        case .scalar("false"), .scalar("False"), .scalar("FALSE"): self = false
        default: throw CRIJSONError(path: path, message: "must be true or false")
        }
    }
}

extension Array: CRIJSONDecodable where Element == UInt8 {
    /// Bytes: standard base64.
    public init(json: CRIJSON, at path: String) throws(CRIJSONError) {
        guard case .string(let text) = json, let data = Data(base64Encoded: text) else {
            throw CRIJSONError(path: path, message: "must be base64")
        }
        self = Array(data)
    }
}

extension CRIJSON {
    /// An integer from a number or a decimal string (Go's ",string" form of 64-bit values).
    func integer<T: FixedWidthInteger>(_ type: T.Type, at path: String) throws(CRIJSONError) -> T {
        let value: T?
        switch self {
        case .integer(let number): value = T(exactly: number)
        case .unsigned(let number): value = T(exactly: number)
        case .double(let number): value = number.rounded() == number ? T(exactly: number) : nil
        case .string(let text), .scalar(let text): value = T(text)
        default: value = nil
        }
        guard let value else { throw CRIJSONError(path: path, message: "must be an integer that fits \(T.self)") }
        return value
    }
}

extension Int64: CRIJSONDecodable {
    public init(json: CRIJSON, at path: String) throws(CRIJSONError) { self = try json.integer(Int64.self, at: path) }
}

extension Int32: CRIJSONDecodable {
    public init(json: CRIJSON, at path: String) throws(CRIJSONError) { self = try json.integer(Int32.self, at: path) }
}

extension UInt64: CRIJSONDecodable {
    public init(json: CRIJSON, at path: String) throws(CRIJSONError) { self = try json.integer(UInt64.self, at: path) }
}

extension UInt32: CRIJSONDecodable {
    public init(json: CRIJSON, at path: String) throws(CRIJSONError) { self = try json.integer(UInt32.self, at: path) }
}

extension Double: CRIJSONDecodable {
    public init(json: CRIJSON, at path: String) throws(CRIJSONError) {
        switch json {
        case .double(let value): self = value
        case .integer(let value): self = Double(value)
        case .unsigned(let value): self = Double(value)
        case .scalar(let text):
            guard let value = Double(text) else { throw CRIJSONError(path: path, message: "must be a number") }
            self = value
        default: throw CRIJSONError(path: path, message: "must be a number")
        }
    }
}
