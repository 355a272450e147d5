import FascoCore
import ImageStore
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("RootfsFile.makeMountPoint")
struct RootfsMountPointTests {
    private func makeRoot() throws -> (base: String, root: String) {
        let base = try makeTestDirectory("mountpoint")
        let root = base + "/root"
        try FileSystem.makeDirectories(root + "/etc", mode: 0o755)
        return (base, root)
    }

    @Test("makes missing directories and files with their parents; leaves what exists")
    func creates() throws {
        let (base, root) = try makeRoot()
        defer { cleanup(base) }
        try RootfsFile.makeMountPoint("/proc", inRoot: root, file: false)
        try RootfsFile.makeMountPoint("/var/lib/data", inRoot: root, file: false)
        try RootfsFile.makeMountPoint("/etc/hostname", inRoot: root, file: true)
        try RootfsFile.makeMountPoint("/run/secrets/token", inRoot: root, file: true)
        #expect(FileSystem.isDirectory(root + "/proc"))
        #expect(FileSystem.isDirectory(root + "/var/lib/data"))
        #expect(FileSystem.exists(root + "/etc/hostname") && !FileSystem.isDirectory(root + "/etc/hostname"))
        #expect(FileSystem.exists(root + "/run/secrets/token") && !FileSystem.isDirectory(root + "/run/secrets/token"))
        try writeFile(root + "/etc/hosts", "kept\n")
        try RootfsFile.makeMountPoint("/etc/hosts", inRoot: root, file: true)
        try RootfsFile.makeMountPoint("/etc/hosts", inRoot: root, file: false)
        #expect(try RootfsFile.read("/etc/hosts", inRoot: root).map { String(decoding: $0, as: UTF8.self) } == "kept\n")
        #expect(throws: FascoError.self) { try RootfsFile.makeMountPoint("/a/../b", inRoot: root, file: false) }
    }

    @Test("symlinks in the image resolve inside the root: nothing is made outside it")
    func symlinkEscape() throws {
        let (base, root) = try makeRoot()
        defer { cleanup(base) }
        #expect(symlink(base, root + "/abs") == 0)
        #expect(symlink("../../../../../../" + base, root + "/rel") == 0)
        #expect(symlink(base + "/outside-file", root + "/etc/leaf") == 0)
        // Dangling inside the root (the host's directory exists, the root's does not): refused.
        #expect(throws: FascoError.self) { try RootfsFile.makeMountPoint("/abs/escaped", inRoot: root, file: false) }
        #expect(throws: FascoError.self) { try RootfsFile.makeMountPoint("/rel/escaped2", inRoot: root, file: true) }
        try RootfsFile.makeMountPoint("/etc/leaf", inRoot: root, file: true)
        #expect(!FileSystem.exists(base + "/escaped"))
        #expect(!FileSystem.exists(base + "/escaped2"))
        #expect(!FileSystem.exists(base + "/outside-file"), "a dangling symlink at the leaf is left, not followed")
        // What the links mean to the container: the same paths inside the root.
        try FileSystem.makeDirectories(root + base, mode: 0o755)
        try RootfsFile.makeMountPoint("/abs/escaped", inRoot: root, file: false)
        try RootfsFile.makeMountPoint("/rel/escaped2", inRoot: root, file: true)
        #expect(!FileSystem.exists(base + "/escaped"))
        #expect(!FileSystem.exists(base + "/escaped2"))
        #expect(FileSystem.isDirectory(root + base + "/escaped"))
        #expect(FileSystem.exists(root + base + "/escaped2"))
    }
}
