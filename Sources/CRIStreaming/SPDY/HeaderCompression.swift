import CZlib

/// One direction's zlib context for SPDY/3 header blocks: every block of a connection
/// continues the same stream (SPDY draft 3, section 2.6.10), primed with `SPDYDictionary`.
///
/// SAFETY: used by one session thread only (never shared); the C stream is freed once.
final class HeaderCompression: @unchecked Sendable {
    enum Direction { case compress, decompress }

    private let stream: OpaquePointer
    let direction: Direction

    init?(_ direction: Direction) {
        let dictionary = SPDYDictionary.bytes
        guard let stream = dictionary.withUnsafeBufferPointer({
            fasco_zstream_new(direction == .compress ? 1 : 0, $0.baseAddress, UInt32($0.count))
        }) else { return nil }
        self.stream = stream
        self.direction = direction
    }

    deinit { fasco_zstream_free(stream) }

    /// Compresses (and sync-flushes) or decompresses `input`; nil when the input is corrupt
    /// or the result would exceed `limit` bytes.
    func run(_ input: [UInt8], limit: Int) -> [UInt8]? {
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var offset = 0
        while true {
            var consumed = 0
            var produced = 0
            let status = input.withUnsafeBufferPointer { source in
                chunk.withUnsafeMutableBufferPointer { target in
                    fasco_zstream_run(stream, source.baseAddress.map { $0 + offset }, source.count - offset,
                                      target.baseAddress, target.count, &consumed, &produced)
                }
            }
            guard status == 0 else { return nil }
            offset += consumed
            guard output.count + produced <= limit else { return nil }
            output.append(contentsOf: chunk[..<produced])
            // Done once the input is used up and the last call left room in the chunk.
            if offset == input.count && produced < chunk.count { return output }
            if consumed == 0 && produced == 0 { return nil }
        }
    }
}
