/// A FIFO of bytes: appended at the back, consumed from the front, compacted lazily.
struct ByteQueue: Sendable {
    private var storage: [UInt8] = []
    private var start = 0

    init() {}

    init(_ bytes: some Sequence<UInt8>) {
        storage = Array(bytes)
    }

    var count: Int { storage.count - start }
    var isEmpty: Bool { count == 0 }

    /// The byte `offset` places from the front (offset < count).
    subscript(offset: Int) -> UInt8 { storage[start + offset] }

    /// A copy of `length` bytes starting `offset` places from the front.
    func bytes(at offset: Int, length: Int) -> [UInt8] {
        Array(storage[(start + offset)..<(start + offset + length)])
    }

    /// Big-endian 32 bits starting `offset` places from the front.
    func uint32(at offset: Int) -> UInt32 {
        let base = start + offset
        return UInt32(storage[base]) << 24 | UInt32(storage[base + 1]) << 16 | UInt32(storage[base + 2]) << 8 | UInt32(storage[base + 3])
    }

    mutating func append(_ bytes: some Sequence<UInt8>) {
        storage.append(contentsOf: bytes)
    }

    mutating func removeFirst(_ length: Int) {
        start += min(length, count)
        if start == storage.count {
            storage.removeAll(keepingCapacity: storage.count <= 1 << 20)
            start = 0
        } else if start >= 64 << 10 && start * 2 >= storage.count {
            storage.removeFirst(start)
            start = 0
        }
    }

    mutating func removeAll() {
        storage.removeAll()
        start = 0
    }

    /// Everything queued, removed.
    mutating func takeAll() -> [UInt8] {
        defer { removeAll() }
        return Array(storage[start...])
    }

    /// Runs `body` over the queued bytes (for write(2)).
    func withReadableBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start...])) }
    }
}
