import CImageLibs
import FascoCore
import Foundation
import Glibc
import ImageStore
import OCISpec
import Testing

/// One tar entry for a test layer, written with libarchive's pax writer.
struct UnpackTarSpec {
    enum Kind {
        case file([UInt8])
        case directory
        case symlink(String)
        case hardlink(String)
        case character(major: UInt32, minor: UInt32)
        case block(major: UInt32, minor: UInt32)
        case fifo
        /// A sparse file of `size` bytes whose data regions are given (offset, bytes).
        case sparse(size: Int64, regions: [(offset: Int64, bytes: [UInt8])])
    }

    var path: [UInt8]
    var kind: Kind
    var mode: mode_t
    var uid: Int64 = 0
    var gid: Int64 = 0
    var mtime: Int64 = 1_600_000_000
    var mtimeNanoseconds: Int = 0
    var xattrs: [(name: String, value: [UInt8])] = []

    init(_ path: String, _ kind: Kind, mode: mode_t? = nil, uid: Int64 = 0, gid: Int64 = 0,
         mtime: Int64 = 1_600_000_000, xattrs: [(name: String, value: [UInt8])] = []) {
        self.init(bytes: Array(path.utf8), kind, mode: mode, uid: uid, gid: gid, mtime: mtime, xattrs: xattrs)
    }

    init(bytes path: [UInt8], _ kind: Kind, mode: mode_t? = nil, uid: Int64 = 0, gid: Int64 = 0,
         mtime: Int64 = 1_600_000_000, xattrs: [(name: String, value: [UInt8])] = []) {
        self.path = path
        self.kind = kind
        switch kind {
        case .directory: self.mode = mode ?? 0o755
        case .symlink: self.mode = mode ?? 0o777
        default: self.mode = mode ?? 0o644
        }
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.xattrs = xattrs
    }

    static func file(_ path: String, _ content: String, mode: mode_t = 0o644) -> UnpackTarSpec {
        UnpackTarSpec(path, .file(Array(content.utf8)), mode: mode)
    }
    static func dir(_ path: String, mode: mode_t = 0o755) -> UnpackTarSpec { UnpackTarSpec(path, .directory, mode: mode) }
    static func symlink(_ path: String, _ target: String) -> UnpackTarSpec { UnpackTarSpec(path, .symlink(target)) }
    static func hardlink(_ path: String, _ target: String) -> UnpackTarSpec { UnpackTarSpec(path, .hardlink(target)) }
    /// An empty regular file: what whiteouts and opaque markers are in a layer.
    static func marker(_ path: String) -> UnpackTarSpec { UnpackTarSpec(path, .file([])) }
}

struct UnpackFixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

enum UnpackFixture {
    /// A pax tar (libarchive's writer, 10240-byte blocks) of `entries`.
    static func tar(_ entries: [UnpackTarSpec]) throws -> [UInt8] {
        guard let archive = archive_write_new() else { throw UnpackFixtureError("archive_write_new") }
        defer { archive_write_free(archive) }
        archive_write_set_format_pax(archive)
        archive_write_add_filter_none(archive)
        var capacity = 64 * 1024
        for entry in entries {
            capacity += 4096 + entry.path.count * 2
            switch entry.kind {
            case .file(let bytes): capacity += bytes.count + 1024
            case .sparse(let size, _): capacity += Int(size) + 4096
            default: break
            }
            capacity += entry.xattrs.reduce(0) { $0 + $1.value.count * 2 + 256 }
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        var used = 0
        guard archive_write_open_memory(archive, buffer, capacity, &used) == ARCHIVE_OK else {
            throw UnpackFixtureError("archive_write_open_memory: \(errorString(archive))")
        }
        for spec in entries {
            guard let entry = archive_entry_new() else { throw UnpackFixtureError("archive_entry_new") }
            defer { archive_entry_free(entry) }
            withCString(spec.path) { archive_entry_copy_pathname(entry, $0) }
            archive_entry_set_perm(entry, spec.mode)
            archive_entry_set_uid(entry, spec.uid)
            archive_entry_set_gid(entry, spec.gid)
            archive_entry_set_mtime(entry, time_t(spec.mtime), spec.mtimeNanoseconds)
            for xattr in spec.xattrs {
                xattr.value.withUnsafeBytes { raw in
                    archive_entry_xattr_add_entry(entry, xattr.name, raw.baseAddress, raw.count)
                }
            }
            var data: [(offset: Int64, bytes: [UInt8])] = []
            switch spec.kind {
            case .file(let bytes):
                archive_entry_set_filetype(entry, 0o100000)
                archive_entry_set_size(entry, Int64(bytes.count))
                data = [(0, bytes)]
            case .sparse(let size, let regions):
                archive_entry_set_filetype(entry, 0o100000)
                archive_entry_set_size(entry, size)
                // The pax writer takes the whole logical content and leaves out the holes.
                var logical = [UInt8](repeating: 0, count: Int(size))
                for region in regions {
                    archive_entry_sparse_add_entry(entry, region.offset, Int64(region.bytes.count))
                    logical.replaceSubrange(Int(region.offset)..<(Int(region.offset) + region.bytes.count), with: region.bytes)
                }
                data = [(0, logical)]
            case .directory:
                archive_entry_set_filetype(entry, 0o040000)
            case .symlink(let target):
                archive_entry_set_filetype(entry, 0o120000)
                archive_entry_copy_symlink(entry, target)
            case .hardlink(let target):
                archive_entry_set_filetype(entry, 0o100000)
                archive_entry_copy_hardlink(entry, target)
                archive_entry_set_size(entry, 0)
            case .character(let major, let minor):
                archive_entry_set_filetype(entry, 0o020000)
                archive_entry_set_rdevmajor(entry, dev_t(major))
                archive_entry_set_rdevminor(entry, dev_t(minor))
            case .block(let major, let minor):
                archive_entry_set_filetype(entry, 0o060000)
                archive_entry_set_rdevmajor(entry, dev_t(major))
                archive_entry_set_rdevminor(entry, dev_t(minor))
            case .fifo:
                archive_entry_set_filetype(entry, 0o010000)
            }
            guard archive_write_header(archive, entry) >= ARCHIVE_WARN else {
                throw UnpackFixtureError("archive_write_header \(String(decoding: spec.path, as: UTF8.self)): \(errorString(archive))")
            }
            for region in data where !region.bytes.isEmpty {
                let written = region.bytes.withUnsafeBytes { raw in archive_write_data(archive, raw.baseAddress, raw.count) }
                guard written == region.bytes.count else {
                    throw UnpackFixtureError("archive_write_data: \(errorString(archive))")
                }
            }
        }
        guard archive_write_close(archive) == ARCHIVE_OK else { throw UnpackFixtureError("archive_write_close: \(errorString(archive))") }
        return Array(UnsafeRawBufferPointer(start: buffer, count: used))
    }

    private static func errorString(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "?"
    }

    private static func withCString<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        let cString = bytes.map { CChar(bitPattern: $0) } + [0]
        return body(cString)
    }

    /// gzip (RFC 1952) with zlib's deflate.
    static func gzip(_ bytes: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        var stream = z_stream()
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
                            Int32(MemoryLayout<z_stream>.size)) == Z_OK else { throw UnpackFixtureError("deflateInit2") }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(bytes.count))) + 64)
        var input = bytes
        let produced = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer -> Int in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = UInt32(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = UInt32(outBuffer.count)
                guard deflate(&stream, Z_FINISH) == Z_STREAM_END else { return -1 }
                return outBuffer.count - Int(stream.avail_out)
            }
        }
        guard produced >= 0 else { throw UnpackFixtureError("deflate") }
        return Array(output.prefix(produced))
    }

    /// One zstd frame.
    static func zstd(_ bytes: [UInt8], level: Int32 = 3) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
        let size = output.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { inp in ZSTD_compress(out.baseAddress, out.count, inp.baseAddress, inp.count, level) }
        }
        guard ZSTD_isError(size) == 0 else { throw UnpackFixtureError("ZSTD_compress") }
        return Array(output.prefix(size))
    }

    static func compress(_ bytes: [UInt8], _ compression: LayerCompression) throws -> [UInt8] {
        switch compression {
        case .uncompressed: bytes
        case .gzip: try gzip(bytes)
        case .zstd: try zstd(bytes)
        }
    }
}

/// A scratch directory: `root` to unpack into, `outside` for escape checks, and blobs.
final class UnpackScratch {
    let path: String
    var root: String { path + "/root" }
    var outside: String { path + "/outside" }
    private var blobs = 0

    init() throws {
        var template = Array("/tmp/fasco-unpack-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress else { return false }
            return mkdtemp(base) != nil
        }
        guard made else { throw UnpackFixtureError("mkdtemp failed") }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: false)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `bytes` to a new blob file and returns its path.
    func blob(_ bytes: [UInt8]) throws -> String {
        blobs += 1
        let file = path + "/blob\(blobs)"
        guard FileManager.default.createFile(atPath: file, contents: Data(bytes)) else { throw UnpackFixtureError("cannot write \(file)") }
        return file
    }

    /// Builds, compresses and applies a layer of `entries`.
    @discardableResult
    func apply(_ entries: [UnpackTarSpec], compression: LayerCompression = .uncompressed,
               options: LayerUnpacker.Options = .init()) throws -> LayerUnpacker.Result {
        let tar = try UnpackFixture.tar(entries)
        let blobPath = try blob(UnpackFixture.compress(tar, compression))
        return try LayerUnpacker.apply(blobPath: blobPath, compression: compression, to: root, options: options)
    }

    func inRoot(_ relative: String) -> String { root + "/" + relative }
}

/// Inspection of the unpacked tree, never following a final symlink.
enum UnpackInspect {
    static func lstat(_ path: String) -> stat? {
        var info = stat()
        return Glibc.lstat(path, &info) == 0 ? info : nil
    }

    static func exists(_ path: String) -> Bool { lstat(path) != nil }

    static func type(_ path: String) -> mode_t? { lstat(path).map { $0.st_mode & 0o170000 } }

    static func mode(_ path: String) -> mode_t? { lstat(path).map { $0.st_mode & 0o7777 } }

    static func contents(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    static func bytes(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { Array($0) }
    }

    static func readlink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = Glibc.readlink(path, &buffer, buffer.count)
        guard count >= 0 else { return nil }
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func children(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    private typealias LgetxattrCall = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int

    /// lgetxattr(2) (not in Swift's Glibc module).
    static func xattr(_ path: String, _ name: String) -> [UInt8]? {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "lgetxattr") else { return nil }
        let call = unsafeBitCast(symbol, to: LgetxattrCall.self)
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { raw in call(path, name, raw.baseAddress, raw.count) }
        return count >= 0 ? Array(buffer.prefix(count)) : nil
    }

    /// Whether the tree at `path` holds no entries at all.
    static func isEmptyDirectory(_ path: String) -> Bool { children(path).isEmpty }
}

let unpackRunningAsRoot = geteuid() == 0
