import FascoCore

/// The protocol-buffers wire form of the few messages of Alibaba Cloud's dedicated KMS API
/// (`dkms_api.proto`, as guest-components' aliyun driver sends them): strings, bytes and a
/// bool, proto3 (fields at their default are left out).
///
/// Written here: five messages of scalar fields take a few dozen lines, where a protoc-c target
/// would add generated C and pointer handling for them.
enum DKMSWire {
    /// A length-delimited field (string or bytes); nothing for an empty value.
    static func bytes(_ number: UInt64, _ value: [UInt8]) -> [UInt8] {
        guard !value.isEmpty else { return [] }
        return varint(number << 3 | 2) + varint(UInt64(value.count)) + value
    }

    static func string(_ number: UInt64, _ value: String) -> [UInt8] { bytes(number, Array(value.utf8)) }

    /// A varint field (bool or integer); nothing for zero.
    static func integer(_ number: UInt64, _ value: UInt64) -> [UInt8] {
        value == 0 ? [] : varint(number << 3) + varint(value)
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var out: [UInt8] = []
        repeat {
            let low = UInt8(value & 0x7f)
            value >>= 7
            out.append(value == 0 ? low : low | 0x80)
        } while value != 0
        return out
    }

    /// A decoded message: each length-delimited field's last value and each varint field's,
    /// by number (unknown fields are kept; a repeated field keeps its last value). INVALID_ARGUMENT
    /// for bytes that are not a message.
    struct Message {
        var lengthDelimited: [UInt64: [UInt8]] = [:]
        var varints: [UInt64: UInt64] = [:]

        init(_ bytes: [UInt8]) throws(FascoError) {
            var index = 0
            func readVarint() throws(FascoError) -> UInt64 {
                var value: UInt64 = 0
                var shift: UInt64 = 0
                while true {
                    guard index < bytes.count, shift < 64 else { throw .invalidArgument("a truncated or overlong varint") }
                    let byte = bytes[index]
                    index += 1
                    value |= UInt64(byte & 0x7f) << shift
                    if byte & 0x80 == 0 { return value }
                    shift += 7
                }
            }
            while index < bytes.count {
                let key = try readVarint()
                let number = key >> 3
                guard number > 0 else { throw .invalidArgument("field number 0") }
                switch key & 7 {
                case 0: varints[number] = try readVarint()
                case 1: guard bytes.count - index >= 8 else { throw .invalidArgument("a truncated fixed64") }; index += 8
                case 5: guard bytes.count - index >= 4 else { throw .invalidArgument("a truncated fixed32") }; index += 4
                case 2:
                    let length = try readVarint()
                    guard length <= UInt64(bytes.count - index) else { throw .invalidArgument("a length past the end") }
                    lengthDelimited[number] = Array(bytes[index..<index + Int(length)])
                    index += Int(length)
                default: throw .invalidArgument("wire type \(key & 7)")
                }
            }
        }

        func string(_ number: UInt64) -> String { String(decoding: lengthDelimited[number] ?? [], as: UTF8.self) }
        func bytes(_ number: UInt64) -> [UInt8] { lengthDelimited[number] ?? [] }
    }
}
