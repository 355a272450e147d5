import CProtobufC
#if canImport(Glibc)
import Glibc
#endif

/// Owns the C memory of one protobuf-c message built from Swift values, and
/// converts protobuf-c's C data back into Swift values.
///
/// Encoding builds a C struct tree whose strings, arrays and sub-messages live
/// in the arena; everything is freed when the arena goes away, after packing.
/// Nothing allocated here is ever handed out of this module.
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    init() {}

    deinit {
        for pointer in allocations { free(pointer) }
    }

    private func allocate<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let bytes = max(1, MemoryLayout<T>.stride * count)
        // malloc only fails when the process is out of memory, which is not input-derived.
        guard let raw = malloc(bytes) else { fatalError("out of memory allocating \(bytes) bytes") }
        allocations.append(raw)
        return raw.bindMemory(to: T.self, capacity: max(1, count))
    }

    /// A NUL-terminated copy of `value`.
    func string(_ value: String) -> UnsafeMutablePointer<CChar> {
        var utf8 = Array(value.utf8)
        utf8.append(0)
        let pointer = allocate(CChar.self, count: utf8.count)
        utf8.withUnsafeBytes { source in
            UnsafeMutableRawPointer(pointer).copyMemory(from: source.baseAddress!, byteCount: source.count)
        }
        return pointer
    }

    func bytes(_ value: [UInt8]) -> ProtobufCBinaryData {
        guard !value.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let pointer = allocate(UInt8.self, count: value.count)
        pointer.initialize(from: value, count: value.count)
        return ProtobufCBinaryData(len: value.count, data: pointer)
    }

    /// A copy of `value` in arena memory (a sub-message).
    func box<T>(_ value: T) -> UnsafeMutablePointer<T> {
        let pointer = allocate(T.self, count: 1)
        pointer.initialize(to: value)
        return pointer
    }

    /// The `n_x` / `x` pair of a repeated field; the pointer is NULL when empty.
    func array<T>(_ values: [T]) -> (Int, UnsafeMutablePointer<T>?) {
        guard !values.isEmpty else { return (0, nil) }
        let pointer = allocate(T.self, count: values.count)
        pointer.initialize(from: values, count: values.count)
        return (values.count, pointer)
    }

    /// A map field: entries sorted by key so that encoding is deterministic.
    func map<Entry>(_ values: [String: String], _ entry: (String, String) -> Entry) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<Entry>?>?) {
        array(values.sorted { $0.key < $1.key }.map { Optional(box(entry($0.key, $0.value))) })
    }
}

// MARK: - C to Swift

extension CArena {
    /// A C string as Swift text; invalid UTF-8 is repaired to U+FFFD, NULL reads as "".
    static func string(_ pointer: UnsafePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        return String(cString: pointer)
    }

    static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard let base = data.data, data.len > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: data.len))
    }

    static func repeated<C, T>(_ pointer: UnsafeMutablePointer<C>?, count: Int, _ convert: (C) -> T) -> [T] {
        guard let pointer, count > 0 else { return [] }
        return UnsafeBufferPointer(start: pointer, count: count).map(convert)
    }

    /// Repeated sub-messages; NULL elements (impossible from protobuf-c's decoder) are skipped.
    static func messages<C, T>(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<C>?>?, count: Int, _ convert: (UnsafePointer<C>) -> T) -> [T] {
        guard let pointer, count > 0 else { return [] }
        return UnsafeBufferPointer(start: pointer, count: count).compactMap { $0.map { convert(UnsafePointer($0)) } }
    }

    /// A map field; a key repeated on the wire keeps its last value, as protobuf specifies.
    static func map<C>(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<C>?>?, count: Int, _ pair: (UnsafePointer<C>) -> (String, String)) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in messages(pointer, count: count, pair) { result[key] = value }
        return result
    }
}

// MARK: - Packing and unpacking

extension CArena {
    typealias Unpack<C> = (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<C>?
    typealias FreeUnpacked<C> = (UnsafeMutablePointer<C>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void

    static func unpack<C, M>(_ bytes: [UInt8], _ unpack: Unpack<C>, _ freeUnpacked: FreeUnpacked<C>, _ convert: (UnsafePointer<C>) -> M) throws(CRIDecodingError) -> M {
        let message: UnsafeMutablePointer<C>? = bytes.withUnsafeBufferPointer { buffer in
            if buffer.isEmpty {
                var empty: UInt8 = 0
                return unpack(nil, 0, &empty)
            }
            return unpack(nil, buffer.count, buffer.baseAddress)
        }
        guard let message else {
            throw CRIDecodingError(messageType: String(describing: M.self), byteCount: bytes.count)
        }
        defer { freeUnpacked(message, nil) }
        return convert(message)
    }

    static func pack<C>(_ build: (CArena) -> C, _ packedSize: (UnsafePointer<C>?) -> Int, _ pack: (UnsafePointer<C>?, UnsafeMutablePointer<UInt8>?) -> Int) -> [UInt8] {
        let arena = CArena()
        var message = build(arena)
        let size = packedSize(&message)
        guard size > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            initialized = pack(&message, buffer.baseAddress)
        }
    }
}
