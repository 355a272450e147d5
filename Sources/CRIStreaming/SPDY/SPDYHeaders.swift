/// A SPDY/3 name/value header block (SPDY draft 3, section 2.6.10): lowercase names, each
/// with one or more values (NUL-separated on the wire).
struct SPDYHeaders: Sendable, Equatable {
    private(set) var fields: [(name: String, values: [String])] = []

    init() {}

    init(_ pairs: [(String, String)]) {
        for (name, value) in pairs { add(name, value) }
    }

    static func == (lhs: SPDYHeaders, rhs: SPDYHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.values == $1.values }
    }

    mutating func add(_ name: String, _ value: String) {
        let name = name.lowercased()
        if let index = fields.firstIndex(where: { $0.name == name }) {
            fields[index].values.append(value)
        } else {
            fields.append((name, [value]))
        }
    }

    /// The first value of `name` (compared case-insensitively).
    subscript(name: String) -> String? {
        let name = name.lowercased()
        return fields.first { $0.name == name }?.values.first
    }

    var isEmpty: Bool { fields.isEmpty }

    /// The uncompressed block.
    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendUInt32(UInt32(fields.count))
        for field in fields {
            let name = Array(field.name.utf8)
            var value: [UInt8] = []
            for (index, part) in field.values.enumerated() {
                if index > 0 { value.append(0) }
                value += Array(part.utf8)
            }
            bytes.appendUInt32(UInt32(name.count))
            bytes += name
            bytes.appendUInt32(UInt32(value.count))
            bytes += value
        }
        return bytes
    }

    /// Parses an uncompressed block; nil when it is malformed or holds more than `maxFields` fields.
    static func decode(_ bytes: [UInt8], maxFields: Int) -> SPDYHeaders? {
        var offset = 0
        func uint32() -> Int? {
            guard bytes.count - offset >= 4 else { return nil }
            defer { offset += 4 }
            return Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
        }
        func string(_ length: Int) -> [UInt8]? {
            guard length >= 0, bytes.count - offset >= length else { return nil }
            defer { offset += length }
            return Array(bytes[offset..<(offset + length)])
        }
        guard let count = uint32(), count <= maxFields else { return nil }
        var headers = SPDYHeaders()
        for _ in 0..<count {
            guard let nameLength = uint32(), nameLength > 0, let name = string(nameLength),
                  let valueLength = uint32(), let value = string(valueLength) else { return nil }
            let nameText = String(decoding: name, as: UTF8.self)
            for part in value.split(separator: 0, omittingEmptySubsequences: false) {
                headers.add(nameText, String(decoding: part, as: UTF8.self))
            }
        }
        guard offset == bytes.count else { return nil }
        return headers
    }
}

extension Array where Element == UInt8 {
    mutating func appendUInt32(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)])
    }

    mutating func appendUInt24(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)])
    }
}
