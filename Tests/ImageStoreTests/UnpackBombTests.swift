import FascoCore
import Foundation
import Glibc
@testable import ImageStore
import OCISpec
import Testing

/// Decompression bombs made by Tests/images/bombs.py, and a tmpfs to unpack them into.
enum Bomb {
    static let script = Kit.repositoryRoot + "/Tests/images/bombs.py"

    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw FascoError.internal("bombs.py \(arguments) failed") }
        return String(decoding: data, as: UTF8.self)
    }

    /// A gzip'd tar of one file of 2 GiB of zeros: about 2 MiB.
    static func zeros(in directory: String, size: Int64 = 2 << 30) throws -> String {
        let path = directory + "/zeros.tar.gz"
        _ = try run(["zeros", "--size", "\(size)", "--out", path])
        return path
    }

    /// A gzip'd tar of `count` empty files.
    static func entries(in directory: String, count: Int = 200_000) throws -> String {
        let path = directory + "/entries.tar.gz"
        _ = try run(["entries", "--count", "\(count)", "--out", path])
        return path
    }

    /// Pushes a one-layer image to the kit's registry; returns the layer's digest.
    static func push(_ layer: String, repository: String, fakeDiffID: Bool) throws -> String {
        let output = try run(["push", "--registry", "127.0.0.1:5000", "--repository", repository, "--layer", layer,
                              "--architecture", Platform.host.architecture] + (fakeDiffID ? ["--fake-diff-id"] : []))
        return String(output.split(separator: "\n").first ?? "")
    }
}

/// A tmpfs of `megabytes` MiB at a fresh directory: what a bomb writes past it is ENOSPC, so an
/// unpack refused by its bound (not by a full disk) provably wrote less than the tmpfs holds.
final class SmallFilesystem {
    let path: String

    init(megabytes: Int) throws {
        path = try makeTestDirectory("bomb-tmpfs")
        guard mount("tmpfs", path, "tmpfs", 0, "size=\(megabytes)m,mode=0755") == 0 else {
            let error = FileSystem.errnoText
            cleanup(path)
            throw FascoError.internal("cannot mount a tmpfs at \(path): \(error)")
        }
    }

    /// Bytes in use, as statvfs counts them.
    var usedBytes: Int64 {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return -1 }
        return Int64(info.f_blocks - info.f_bfree) * Int64(info.f_frsize)
    }

    deinit {
        _ = umount2(path, Int32(MNT_DETACH))
        cleanup(path)
    }
}

extension UnpackScratch {
    /// A new empty directory to unpack into, inside the scratch directory (removed with it).
    func fresh() -> String {
        let directory = path + "/root-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        return directory
    }
}

/// Bytes allocated under `path` (st_blocks), symlinks not followed.
func allocatedBytes(_ path: String) -> Int64 {
    var total: Int64 = 0
    guard let enumerator = FileManager.default.enumerator(atPath: path) else { return 0 }
    var info = stat()
    for case let name as String in enumerator where lstat(path + "/" + name, &info) == 0 {
        total += Int64(info.st_blocks) * 512
    }
    return total
}

@Suite("decompression bombs are refused while they unpack", .serialized)
struct UnpackBombTests {
    @Test("2 GiB of zeros in 2 MiB of gzip stops at the ratio bound, far below 512 MiB written")
    func zerosBomb() throws {
        let scratch = try UnpackScratch()
        let blob = try Bomb.zeros(in: scratch.path)
        let compressed = try #require(try FileManager.default.attributesOfItem(atPath: blob)[.size] as? Int)
        #expect(compressed < 3 << 20, "the bomb is small: \(compressed) bytes")
        let disk = try SmallFilesystem(megabytes: 512)
        let root = disk.path + "/root"
        try FileSystem.makeDirectories(root)
        let error = try #require(throws: FascoError.self) {
            try LayerUnpacker.apply(blobPath: blob, compression: .gzip, to: root,
                                    options: .init(layerName: "sha256:zeros"))
        }
        #expect(error.code == .resourceExhausted)
        // Refused by the bound, not by the full tmpfs: it never got to 512 MiB.
        #expect(error.message.contains("layer sha256:zeros"), "\(error)")
        #expect(error.message.contains("image.max_layer_ratio = 100"), "\(error)")
        #expect(error.message.contains("image.layer_ratio_floor_bytes = \(256 << 20)"), "\(error)")
        let written = allocatedBytes(root)
        #expect(written > 200 << 20, "it did unpack up to the bound: \(written)")
        #expect(written <= (256 << 20) + (1 << 20), "nothing past the bound was written: \(written)")
    }

    @Test("200,000 empty files stop at the entry bound")
    func entriesBomb() throws {
        let scratch = try UnpackScratch()
        let blob = try Bomb.entries(in: scratch.path)
        let disk = try SmallFilesystem(megabytes: 512)
        let root = disk.path + "/root"
        try FileSystem.makeDirectories(root)
        let error = try #require(throws: FascoError.self) {
            try LayerUnpacker.apply(blobPath: blob, compression: .gzip, to: root, options: .init(layerName: "sha256:entries"))
        }
        #expect(error.code == .resourceExhausted)
        #expect(error.message.contains("layer sha256:entries has more than 100000 entries"), "\(error)")
        #expect(error.message.contains("image.max_layer_entries = 100000"), "\(error)")
        let files = try FileManager.default.contentsOfDirectory(atPath: root + "/f").count
        #expect(files == 100_000, "entries up to the bound were written, none past it")
    }

    @Test("each bound lets a layer exactly at it through and refuses one past it")
    func boundsAreExact() throws {
        let tar = try UnpackFixture.tar([.dir("d/"), .file("d/a", "a"), .file("d/b", "b")])
        let scratch = try UnpackScratch()
        let blob = try scratch.blob(tar)
        // Entries: 3.
        var limits = LayerLimits(maxEntries: 3)
        _ = try LayerUnpacker.apply(blobPath: blob, compression: .uncompressed, to: scratch.fresh(),
                                    options: .init(limits: limits))
        limits.maxEntries = 2
        var error = try #require(throws: FascoError.self) {
            try LayerUnpacker.apply(blobPath: blob, compression: .uncompressed, to: scratch.fresh(),
                                    options: .init(limits: limits))
        }
        #expect(error.code == .resourceExhausted && error.message.contains("image.max_layer_entries = 2"), "\(error)")
        // Absolute bytes: the tar's own size.
        limits = LayerLimits(maxBytes: Int64(tar.count))
        _ = try LayerUnpacker.apply(blobPath: blob, compression: .uncompressed, to: scratch.fresh(),
                                    options: .init(limits: limits))
        limits.maxBytes = Int64(tar.count) - 1
        error = try #require(throws: FascoError.self) {
            try LayerUnpacker.apply(blobPath: blob, compression: .uncompressed, to: scratch.fresh(),
                                    options: .init(limits: limits))
        }
        #expect(error.code == .resourceExhausted && error.message.contains("image.max_layer_bytes = \(tar.count - 1)"), "\(error)")
    }

    @Test("the ratio bound applies past its floor only, for gzip and zstd", arguments: [LayerCompression.gzip, .zstd])
    func ratioAndFloor(compression: LayerCompression) throws {
        let tar = try UnpackFixture.tar([.file("zeros", String(repeating: "\0", count: 8 << 20))])
        let scratch = try UnpackScratch()
        let blob = try scratch.blob(UnpackFixture.compress(tar, compression))
        // Far more than 100:1, but under a 16 MiB floor: a small compressible layer passes.
        _ = try LayerUnpacker.apply(blobPath: blob, compression: compression, to: scratch.fresh(),
                                    options: .init(limits: LayerLimits(ratioFloorBytes: 16 << 20)))
        // With a 1 MiB floor the ratio decides.
        let root = scratch.fresh()
        let error = try #require(throws: FascoError.self) {
            try LayerUnpacker.apply(blobPath: blob, compression: compression, to: root,
                                    options: .init(limits: LayerLimits(ratioFloorBytes: 1 << 20)))
        }
        #expect(error.code == .resourceExhausted && error.message.contains("image.max_layer_ratio = 100"), "\(error)")
        #expect(allocatedBytes(root) <= 2 << 20)
    }

    @Test("a pulled bomb is refused, names its layer, and leaves no partial snapshot; a real image still pulls")
    func pulledBomb() async throws {
        let scratch = try UnpackScratch()
        let zeros = try Bomb.zeros(in: scratch.path)
        let zerosDigest = try Bomb.push(zeros, repository: "fasco/bomb-zeros", fakeDiffID: true)
        let entries = try Bomb.entries(in: scratch.path)
        let entriesDigest = try Bomb.push(entries, repository: "fasco/bomb-entries", fakeDiffID: false)

        let disk = try SmallFilesystem(megabytes: 512)
        let store = try ImageStore(root: disk.path + "/images", sources: RegistryHosts().source)
        for (image, digest, key) in [("127.0.0.1:5000/fasco/bomb-zeros:latest", zerosDigest, "image.max_layer_ratio"),
                                     ("127.0.0.1:5000/fasco/bomb-entries:latest", entriesDigest, "image.max_layer_entries")] {
            let error = try await #require(throws: FascoError.self) { try await store.pull(image) }
            #expect(error.code == .resourceExhausted, "\(error)")
            #expect(error.message.contains("layer \(digest)") && error.message.contains(key), "\(error)")
            let left = try FileManager.default.contentsOfDirectory(atPath: disk.path + "/images/snapshots")
            #expect(left.isEmpty, "the partial unpack is removed: \(left)")
            #expect(disk.usedBytes < 8 << 20, "only the small blobs remain: \(disk.usedBytes) bytes used")
        }
        #expect(await store.images.isEmpty)
        let record = try await store.pull("127.0.0.1:5000/fasco/busybox:latest")
        let top = try #require(record.chainIDs.last)
        #expect(fileType(store.snapshots.path(of: top) + "/bin/busybox") == S_IFREG)
    }
}
