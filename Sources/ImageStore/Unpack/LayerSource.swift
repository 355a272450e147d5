import CImageLibs
import FascoCore
import Glibc
import OCISpec

/// The uncompressed byte stream of a layer blob: reads the file in large blocks,
/// decompresses it (zlib for gzip, libzstd for zstd) and hashes every
/// uncompressed byte it hands out, which makes the DiffID.
///
/// A class because libarchive holds it as the `client_data` of its read callback;
/// it is used from one thread only.
final class LayerSource {
    static let inputCapacity = 256 << 10
    static let outputCapacity = 1 << 20

    private enum Decoder {
        case none
        case gzip(UnsafeMutablePointer<z_stream>)
        case zstd(OpaquePointer)
    }

    let blobPath: String
    let compression: LayerCompression
    /// What errors call the layer (its digest when the caller knows it, else the blob's path).
    let layerName: String
    /// The blob's size on disk, against which `limits.maxRatio` is measured.
    let compressedBytes: Int64
    /// The most uncompressed bytes `next()` hands out before it fails (`LayerLimits`).
    private let byteBound: Int64
    private let limits: LayerLimits
    private let fd: Int32
    private let decoder: Decoder
    private let input: UnsafeMutableRawBufferPointer
    private let output: UnsafeMutableRawBufferPointer
    private var inputEOF = false
    private var finished = false
    private var hasher: DigestHasher?
    private var digest: Digest?
    private var byteCount: Int64 = 0

    // gzip state: a blob may hold several gzip members back to back (RFC 1952 §2.2).
    private var gzipMemberEnded = false
    private var gzipMembers = 0
    // zstd state.
    private var zstdInput = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
    private var zstdFrameOpen = true

    /// The first error the stream hit; libarchive only sees "read failed", so the
    /// unpacker reports this one instead.
    private(set) var failure: FascoError?

    init(blobPath: String, compression: LayerCompression, algorithm: Digest.Algorithm,
         limits: LayerLimits = .unbounded, layerName: String? = nil) throws(FascoError) {
        self.blobPath = blobPath
        self.compression = compression
        self.layerName = layerName ?? blobPath
        self.limits = limits
        let fd = open(blobPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw .notFound("layer blob \(blobPath) does not exist") }
            throw .unpack("cannot open layer blob \(blobPath)", errno: code)
        }
        var info = stat()
        compressedBytes = fstat(fd, &info) == 0 ? Int64(info.st_size) : 0
        byteBound = limits.byteBound(compressedBytes: compressedBytes).bytes
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        switch compression {
        case .uncompressed:
            decoder = .none
        case .gzip:
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            // 15 window bits + 16: a gzip wrapper, not zlib or raw deflate.
            let rc = inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
            guard rc == Z_OK else {
                stream.deallocate()
                close(fd)
                throw .internal("cannot initialise zlib (error \(rc))")
            }
            decoder = .gzip(stream)
        case .zstd:
            guard let context = ZSTD_createDCtx() else {
                close(fd)
                throw .internal("cannot allocate a zstd decompression context")
            }
            decoder = .zstd(context)
        }
        self.fd = fd
        input = .allocate(byteCount: compression == .uncompressed ? 0 : Self.inputCapacity, alignment: 64)
        output = .allocate(byteCount: Self.outputCapacity, alignment: 64)
        hasher = DigestHasher(algorithm)
    }

    deinit {
        switch decoder {
        case .none: break
        case .gzip(let stream):
            inflateEnd(stream)
            stream.deallocate()
        case .zstd(let context):
            ZSTD_freeDCtx(context)
        }
        input.deallocate()
        output.deallocate()
        close(fd)
    }

    /// The read callback's body: points `buffer` at the next uncompressed block and
    /// returns its size, 0 at the end, -1 on error (kept in `failure`).
    func archiveRead(_ buffer: UnsafeMutablePointer<UnsafeRawPointer?>) -> Int {
        do {
            let chunk = try next()
            buffer.pointee = chunk.baseAddress
            return chunk.count
        } catch {
            if failure == nil { failure = error }
            buffer.pointee = nil
            return -1
        }
    }

    /// The next block of uncompressed bytes, hashed; empty at the end of the stream.
    /// The block stays valid until the next call.
    func next() throws(FascoError) -> UnsafeRawBufferPointer {
        if let failure { throw failure }
        if finished { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let count: Int
        do {
            count = try decode()
        } catch {
            failure = error
            throw error
        }
        if count == 0 {
            finished = true
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        // Checked before the block is handed out: nothing past the bound reaches libarchive,
        // so nothing past it is written.
        if byteCount + Int64(count) > byteBound {
            let error = limits.bytesExceeded(layer: layerName, compressedBytes: compressedBytes)
            failure = error
            throw error
        }
        let chunk = UnsafeRawBufferPointer(start: output.baseAddress, count: count)
        hasher?.update(chunk)
        byteCount += Int64(count)
        return chunk
    }

    /// Reads and hashes whatever libarchive left unread (the zero blocks after the
    /// end-of-archive marker belong to the DiffID too) and checks the compressed
    /// stream ends cleanly.
    func drain() throws(FascoError) {
        while try next().count > 0 {}
    }

    /// The digest and size of the uncompressed stream; call after `drain()`.
    func result() -> (diffID: Digest, bytes: Int64) {
        if let digest { return (digest, byteCount) }
        let value: Digest
        if let hasher = hasher.take() {
            value = hasher.finalize()
        } else {
            value = DigestHasher().finalize()
        }
        digest = value
        return (value, byteCount)
    }

    // MARK: decoding

    private func decode() throws(FascoError) -> Int {
        switch decoder {
        case .none:
            return try readBlob(into: output)
        case .gzip(let stream):
            return try inflateNext(stream)
        case .zstd(let context):
            return try zstdNext(context)
        }
    }

    /// read(2) into `buffer`; 0 at end of file.
    private func readBlob(into buffer: UnsafeMutableRawBufferPointer) throws(FascoError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let count = read(fd, base, buffer.count)
            if count >= 0 {
                if count == 0 { inputEOF = true }
                return count
            }
            if errno == EINTR { continue }
            throw .unpack("cannot read layer blob \(blobPath)", errno: errno)
        }
    }

    private func inflateNext(_ stream: UnsafeMutablePointer<z_stream>) throws(FascoError) -> Int {
        while true {
            if stream.pointee.avail_in == 0 && !inputEOF {
                let count = try readBlob(into: input)
                stream.pointee.next_in = input.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_in = UInt32(count)
            }
            if gzipMemberEnded {
                if stream.pointee.avail_in == 0 {
                    if inputEOF { return 0 }
                    continue
                }
                // Another member follows.
                guard inflateReset(stream) == Z_OK else { throw .internal("cannot reset the zlib stream") }
                gzipMemberEnded = false
            }
            stream.pointee.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = UInt32(output.count)
            let rc = inflate(stream, Z_NO_FLUSH)
            let produced = output.count - Int(stream.pointee.avail_out)
            switch rc {
            case Z_OK, Z_BUF_ERROR:
                break
            case Z_STREAM_END:
                gzipMemberEnded = true
                gzipMembers += 1
            default:
                let detail = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(rc)"
                if gzipMembers > 0 {
                    throw .invalidArgument("layer blob \(blobPath): data after the end of the gzip stream is not gzip (\(detail))")
                }
                throw .invalidArgument("layer blob \(blobPath) is not valid gzip data: \(detail)")
            }
            if produced > 0 { return produced }
            if stream.pointee.avail_in == 0 && inputEOF && !gzipMemberEnded {
                throw .invalidArgument("layer blob \(blobPath): the gzip stream is truncated")
            }
        }
    }

    private func zstdNext(_ context: OpaquePointer) throws(FascoError) -> Int {
        while true {
            if zstdInput.pos == zstdInput.size && !inputEOF {
                let count = try readBlob(into: input)
                zstdInput = ZSTD_inBuffer(src: input.baseAddress, size: count, pos: 0)
            }
            var out = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            let consumedBefore = zstdInput.pos
            let rc = ZSTD_decompressStream(context, &out, &zstdInput)
            if ZSTD_isError(rc) != 0 {
                let detail = String(cString: ZSTD_getErrorName(rc))
                throw .invalidArgument("layer blob \(blobPath) is not valid zstd data: \(detail)")
            }
            // 0: a frame is complete and fully flushed. A call that did nothing (no
            // input left) reports what a next frame would need; it does not count.
            if out.pos > 0 || zstdInput.pos != consumedBefore {
                zstdFrameOpen = rc != 0
            }
            if out.pos > 0 { return out.pos }
            if zstdInput.pos == zstdInput.size && inputEOF {
                if zstdFrameOpen {
                    throw .invalidArgument("layer blob \(blobPath): the zstd stream is truncated")
                }
                return 0
            }
        }
    }

    // MARK: compression sniffing

    /// The compression of a blob judged by its first bytes: gzip (1f 8b), zstd
    /// (28 b5 2f fd), anything else (or an unreadable file) uncompressed.
    static func sniff(blobPath: String) -> LayerCompression {
        let fd = open(blobPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .uncompressed }
        defer { close(fd) }
        var magic: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
        var total = 0
        while total < 4 {
            let count = withUnsafeMutableBytes(of: &magic) { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                return read(fd, base + total, 4 - total)
            }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            total += count
        }
        if total >= 2 && magic.0 == 0x1F && magic.1 == 0x8B { return .gzip }
        if total >= 4 && magic.0 == 0x28 && magic.1 == 0xB5 && magic.2 == 0x2F && magic.3 == 0xFD { return .zstd }
        return .uncompressed
    }
}
