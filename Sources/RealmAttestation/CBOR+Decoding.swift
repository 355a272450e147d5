import FascoCore

extension CBOR {
    /// Decodes exactly one well-formed item of definite length (no floats or simple values
    /// beyond true, false and null), nested at most `maxDepth` deep; anything else is
    /// INVALID_ARGUMENT.
    public static func decode(_ bytes: [UInt8], maxDepth: Int = 32) throws(FascoError) -> CBOR {
        var reader = Reader(bytes: bytes)
        let item = try reader.item(depth: maxDepth)
        guard reader.offset == bytes.count else { throw .invalidArgument("CBOR: \(bytes.count - reader.offset) bytes after the item") }
        return item
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func byte() throws(FascoError) -> UInt8 {
            guard offset < bytes.count else { throw .invalidArgument("CBOR: truncated") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func take(_ count: UInt64) throws(FascoError) -> [UInt8] {
            guard count <= UInt64(bytes.count - offset) else { throw .invalidArgument("CBOR: truncated") }
            defer { offset += Int(count) }
            return Array(bytes[offset..<(offset + Int(count))])
        }

        mutating func argument(_ info: UInt8) throws(FascoError) -> UInt64 {
            switch info {
            case 0..<24: return UInt64(info)
            case 24...27:
                var value: UInt64 = 0
                for byte in try take(1 << UInt64(info - 24)) { value = value << 8 | UInt64(byte) }
                return value
            default: throw .invalidArgument("CBOR: indefinite or reserved length \(info)")
            }
        }

        mutating func item(depth: Int) throws(FascoError) -> CBOR {
            guard depth > 0 else { throw .invalidArgument("CBOR: nested too deep") }
            let initial = try byte()
            let major = initial >> 5
            let info = initial & 0x1f
            if major == 7 {
                switch info {
                case 20: return .bool(false)
                case 21: return .bool(true)
                case 22: return .null
                default: throw .invalidArgument("CBOR: unsupported simple value or float \(info)")
                }
            }
            let argument = try argument(info)
            switch major {
            case 0: return .unsigned(argument)
            case 1: return .negative(argument)
            case 2: return .bytes(try take(argument))
            case 3:
                let raw = try take(argument)
                guard let text = String(validating: raw, as: UTF8.self) else { throw .invalidArgument("CBOR: text is not UTF-8") }
                return .text(text)
            case 4:
                guard argument <= UInt64(bytes.count - offset) else { throw .invalidArgument("CBOR: truncated") }
                var items: [CBOR] = []
                for _ in 0..<argument { items.append(try item(depth: depth - 1)) }
                return .array(items)
            case 5:
                guard argument <= UInt64(bytes.count - offset) else { throw .invalidArgument("CBOR: truncated") }
                var entries: [Entry] = []
                for _ in 0..<argument {
                    let key = try item(depth: depth - 1)
                    entries.append(Entry(key, try item(depth: depth - 1)))
                }
                return .map(entries)
            default:
                return .tagged(argument, try item(depth: depth - 1))
            }
        }
    }

    /// The value under an integer key of a map.
    public subscript(key: Int64) -> CBOR? {
        guard case .map(let entries) = self else { return nil }
        return entries.first { $0.key == .int(key) }?.value
    }

    public var bytesValue: [UInt8]? {
        if case .bytes(let bytes) = self { return bytes }
        return nil
    }

    public var textValue: String? {
        if case .text(let text) = self { return text }
        return nil
    }
}
