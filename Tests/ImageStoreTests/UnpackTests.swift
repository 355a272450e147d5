import FascoCore
import Foundation
import Glibc
import ImageStore
import OCISpec
import Testing

@Suite("layer unpacking: entries and metadata")
struct UnpackTests {
    static let compressions: [LayerCompression] = [.uncompressed, .gzip, .zstd]

    @Test("every entry type with its metadata, in every compression", arguments: compressions)
    func allTypes(compression: LayerCompression) throws {
        let scratch = try UnpackScratch()
        let owned = unpackRunningAsRoot
        var entries: [UnpackTarSpec] = [
            UnpackTarSpec("./", .directory, mode: 0o755, mtime: 1_500_000_000),
            UnpackTarSpec("etc/", .directory, mode: 0o755, uid: 0, gid: 0, mtime: 1_500_000_100),
            UnpackTarSpec("etc/hosts", .file(Array("127.0.0.1 localhost\n".utf8)), mode: 0o644, uid: 1000, gid: 2000, mtime: 1_400_000_000),
            UnpackTarSpec("usr/bin/suid", .file(Array("#!/bin/sh\n".utf8)), mode: 0o4755, uid: 0, gid: 0),
            UnpackTarSpec("usr/bin/sgid", .file([1, 2, 3]), mode: 0o2711, uid: 0, gid: 42),
            UnpackTarSpec("tmp/", .directory, mode: 0o1777, mtime: 1_450_000_000),
            UnpackTarSpec("ro/", .directory, mode: 0o555, mtime: 1_450_000_001),
            UnpackTarSpec("ro/inside", .file(Array("x".utf8)), mode: 0o400),
            .symlink("abs-link", "/etc/hosts"),
            .symlink("rel-link", "../etc/./hosts"),
            .symlink("dangling", "/no/such/target"),
            .hardlink("etc/hosts.hard", "etc/hosts"),
            UnpackTarSpec("xattr-file", .file(Array("data".utf8)), xattrs: [("user.fasco.test", Array("value-1".utf8)),
                                                                      ("user.empty", [])]),
            UnpackTarSpec("xattr-dir/", .directory, xattrs: [("user.fasco.dir", [0, 1, 2, 255])]),
            UnpackTarSpec("fifo", .fifo, mode: 0o640),
            UnpackTarSpec("empty-file", .file([])),
        ]
        if owned {
            entries.append(UnpackTarSpec("dev/null", .character(major: 1, minor: 3), mode: 0o666))
            entries.append(UnpackTarSpec("dev/loop0", .block(major: 7, minor: 0), mode: 0o660, gid: 6))
        }
        let tar = try UnpackFixture.tar(entries)
        let blob = try scratch.blob(UnpackFixture.compress(tar, compression))
        let result = try LayerUnpacker.apply(blobPath: blob, compression: compression, to: scratch.root)

        #expect(result.diffID == Digest.of(tar))
        #expect(result.uncompressedBytes == Int64(tar.count))
        #expect(result.entries == entries.count)

        let root = scratch.root
        // Regular files: content, mode, owner, mtime.
        #expect(UnpackInspect.contents(root + "/etc/hosts") == "127.0.0.1 localhost\n")
        let hosts = try #require(UnpackInspect.lstat(root + "/etc/hosts"))
        #expect(hosts.st_mode & 0o7777 == 0o644)
        #expect(hosts.st_mtim.tv_sec == 1_400_000_000)
        if owned {
            #expect(hosts.st_uid == 1000 && hosts.st_gid == 2000)
        }
        #expect(UnpackInspect.mode(root + "/usr/bin/suid") == 0o4755)
        #expect(UnpackInspect.mode(root + "/usr/bin/sgid") == 0o2711)
        #expect(UnpackInspect.bytes(root + "/usr/bin/sgid") == [1, 2, 3])
        #expect(UnpackInspect.bytes(root + "/empty-file") == [])
        // Implicit parents are plain 0755 directories.
        #expect(UnpackInspect.type(root + "/usr") == 0o040000)
        #expect(UnpackInspect.mode(root + "/usr") == 0o755)

        // Directories: modes (incl. sticky and read-only) and mtimes set after their contents.
        #expect(UnpackInspect.mode(root + "/tmp") == 0o1777)
        #expect(UnpackInspect.mode(root + "/ro") == 0o555)
        #expect(UnpackInspect.contents(root + "/ro/inside") == "x")
        #expect(UnpackInspect.lstat(root + "/ro")?.st_mtim.tv_sec == 1_450_000_001)
        #expect(UnpackInspect.lstat(root + "/etc")?.st_mtim.tv_sec == 1_500_000_100)
        #expect(UnpackInspect.lstat(root)?.st_mtim.tv_sec == 1_500_000_000)
        #expect(UnpackInspect.mode(root) == 0o755)

        // Symlinks keep their targets verbatim.
        #expect(UnpackInspect.type(root + "/abs-link") == 0o120000)
        #expect(UnpackInspect.readlink(root + "/abs-link") == "/etc/hosts")
        #expect(UnpackInspect.readlink(root + "/rel-link") == "../etc/./hosts")
        #expect(UnpackInspect.readlink(root + "/dangling") == "/no/such/target")

        // Hard links share the inode.
        let hard = try #require(UnpackInspect.lstat(root + "/etc/hosts.hard"))
        #expect(hard.st_ino == hosts.st_ino)
        #expect(hard.st_nlink == 2)

        // Extended attributes.
        #expect(UnpackInspect.xattr(root + "/xattr-file", "user.fasco.test") == Array("value-1".utf8))
        #expect(UnpackInspect.xattr(root + "/xattr-file", "user.empty") == [])
        #expect(UnpackInspect.xattr(root + "/xattr-dir", "user.fasco.dir") == [0, 1, 2, 255])

        // FIFO and devices.
        #expect(UnpackInspect.type(root + "/fifo") == 0o010000)
        #expect(UnpackInspect.mode(root + "/fifo") == 0o640)
        if owned {
            let null = try #require(UnpackInspect.lstat(root + "/dev/null"))
            #expect(null.st_mode & 0o170000 == 0o020000)
            #expect(null.st_mode & 0o7777 == 0o666)
            #expect(null.st_rdev == unpackMakeDevice(1, 3))
            let loop = try #require(UnpackInspect.lstat(root + "/dev/loop0"))
            #expect(loop.st_mode & 0o170000 == 0o060000)
            #expect(loop.st_rdev == unpackMakeDevice(7, 0))
            #expect(loop.st_gid == 6)
        }
    }

    @Test("symlink ownership and times are set on the link itself", .enabled(if: unpackRunningAsRoot))
    func symlinkMetadata() throws {
        let scratch = try UnpackScratch()
        try scratch.apply([
            .file("target", "t"),
            UnpackTarSpec("link", .symlink("target"), uid: 123, gid: 456, mtime: 1_234_567_890),
        ])
        let link = try #require(UnpackInspect.lstat(scratch.inRoot("link")))
        #expect(link.st_uid == 123 && link.st_gid == 456)
        #expect(link.st_mtim.tv_sec == 1_234_567_890)
        let target = try #require(UnpackInspect.lstat(scratch.inRoot("target")))
        #expect(target.st_uid == 0)
        #expect(target.st_mtim.tv_sec == 1_600_000_000)
    }

    @Test("security.* and trusted.* attributes are applied when the host allows them", .enabled(if: unpackRunningAsRoot))
    func privilegedXattrs() throws {
        let scratch = try UnpackScratch()
        try scratch.apply([
            UnpackTarSpec("trusted", .file([1]), xattrs: [("trusted.fasco", Array("t".utf8))]),
            // A syntactically invalid file capability: the kernel refuses it, the unpacker goes on.
            UnpackTarSpec("bad-capability", .file([1]), xattrs: [("security.capability", [1, 2, 3])]),
            // user.* is not allowed on symlinks by Linux; ignored rather than failing the layer.
            UnpackTarSpec("link", .symlink("trusted"), xattrs: [("user.on-link", [1]), ("trusted.on-link", Array("l".utf8))]),
            UnpackTarSpec("fifo", .fifo, xattrs: [("trusted.on-fifo", Array("f".utf8))]),
            UnpackTarSpec("dir/", .directory, xattrs: [("trusted.on-dir", Array("d".utf8))]),
        ])
        #expect(UnpackInspect.xattr(scratch.inRoot("fifo"), "trusted.on-fifo") == Array("f".utf8))
        #expect(UnpackInspect.xattr(scratch.inRoot("dir"), "trusted.on-dir") == Array("d".utf8))
        #expect(UnpackInspect.xattr(scratch.inRoot("trusted"), "trusted.fasco") == Array("t".utf8))
        #expect(UnpackInspect.xattr(scratch.inRoot("link"), "trusted.on-link") == Array("l".utf8))
        #expect(UnpackInspect.xattr(scratch.inRoot("link"), "user.on-link") == nil)
        #expect(UnpackInspect.exists(scratch.inRoot("bad-capability")))
    }

    @Test("a large file streams through several buffers intact", arguments: compressions)
    func largeFile(compression: LayerCompression) throws {
        let scratch = try UnpackScratch()
        // 5 MiB + a bit, not compressible to nothing, so every stage sees several blocks.
        var generator = UnpackRandom(seed: 42)
        let size = 5 * 1024 * 1024 + 12345
        var content = [UInt8](repeating: 0, count: size)
        for index in stride(from: 0, to: size, by: 8) {
            let value = generator.next() & 0x0F0F_0F0F_0F0F_0F0F
            for byte in 0..<min(8, size - index) { content[index + byte] = UInt8(truncatingIfNeeded: value >> (byte * 8)) }
        }
        let entries = [UnpackTarSpec("big.bin", .file(content)), .file("after", "tail")]
        let tar = try UnpackFixture.tar(entries)
        let result = try scratch.apply(entries, compression: compression)
        #expect(result.diffID == Digest.of(tar))
        #expect(result.uncompressedBytes == Int64(tar.count))
        #expect(UnpackInspect.bytes(scratch.inRoot("big.bin")) == content, "content differs")
        #expect(UnpackInspect.contents(scratch.inRoot("after")) == "tail")
    }

    @Test("sparse files keep their holes and size")
    func sparse() throws {
        let scratch = try UnpackScratch()
        let size: Int64 = 3 * 1024 * 1024
        let first = [UInt8](repeating: 0xAB, count: 4096)
        let second = [UInt8](repeating: 0xCD, count: 8192)
        try scratch.apply([
            UnpackTarSpec("sparse", .sparse(size: size, regions: [(Int64(65536), first), (Int64(1024 * 1024), second)])),
        ])
        let path = scratch.inRoot("sparse")
        let info = try #require(UnpackInspect.lstat(path))
        #expect(info.st_size == size)
        let bytes = try #require(UnpackInspect.bytes(path))
        #expect(bytes.count == Int(size))
        var expected = [UInt8](repeating: 0, count: Int(size))
        expected.replaceSubrange(65536..<(65536 + 4096), with: first)
        expected.replaceSubrange((1024 * 1024)..<(1024 * 1024 + 8192), with: second)
        #expect(bytes == expected, "sparse content differs")
        // Holes stay holes: far fewer blocks than the apparent size.
        #expect(Int64(info.st_blocks) * 512 < size / 2)
    }

    @Test("names that are not UTF-8 are kept byte for byte")
    func rawNames() throws {
        let scratch = try UnpackScratch()
        let latin1: [UInt8] = Array("caf".utf8) + [0xE9]  // "café" in ISO 8859-1
        try scratch.apply([
            UnpackTarSpec(bytes: latin1, .file(Array("latin".utf8))),
            UnpackTarSpec("naïve-ü", .file(Array("utf8".utf8))),
        ])
        let names = try FileManager.default.contentsOfDirectory(atPath: scratch.root)
        #expect(names.contains("naïve-ü"))
        let rootFd = open(scratch.root, O_RDONLY | O_DIRECTORY)
        defer { close(rootFd) }
        let cName = latin1.map { CChar(bitPattern: $0) } + [0]
        var info = stat()
        #expect(fstatat(rootFd, cName, &info, AT_SYMLINK_NOFOLLOW) == 0)
        #expect(info.st_size == 5)
    }

    @Test("without preserveOwnership files belong to the caller")
    func noOwnership() throws {
        let scratch = try UnpackScratch()
        try scratch.apply([UnpackTarSpec("f", .file([1]), uid: 4321, gid: 8765)], options: .init(preserveOwnership: false))
        let info = try #require(UnpackInspect.lstat(scratch.inRoot("f")))
        #expect(info.st_uid == geteuid())
    }

    @Test("layers stack: a second layer adds to and overwrites the first")
    func stacking() throws {
        let scratch = try UnpackScratch()
        try scratch.apply([.dir("app/"), .file("app/config", "v1"), .file("app/keep", "keep")])
        // The lower file is hard-linked elsewhere: overwriting must not write through the shared inode.
        #expect(link(scratch.inRoot("app/config"), scratch.outside + "/config-link") == 0)
        try scratch.apply([.file("app/config", "v2"), .hardlink("app/keep-link", "app/keep")], compression: .gzip)
        #expect(UnpackInspect.contents(scratch.inRoot("app/config")) == "v2")
        #expect(UnpackInspect.contents(scratch.outside + "/config-link") == "v1")
        #expect(UnpackInspect.lstat(scratch.inRoot("app/keep-link"))?.st_ino == UnpackInspect.lstat(scratch.inRoot("app/keep"))?.st_ino)
    }
}

func unpackMakeDevice(_ major: UInt64, _ minor: UInt64) -> UInt64 {
    ((major & 0xFFFF_F000) << 32) | ((major & 0xFFF) << 8) | ((minor & 0xFFFF_FF00) << 12) | (minor & 0xFF)
}

/// A small deterministic generator for test data.
typealias UnpackRandom = SplitMix64
