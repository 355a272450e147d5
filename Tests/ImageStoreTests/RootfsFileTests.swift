import FascoCore
import ImageStore
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("RootfsFile")
struct RootfsFileTests {
    /// A root with etc/, and a secret file beside it (outside the root).
    private func makeRoot() throws -> (base: String, root: String, secret: String) {
        let base = try makeTestDirectory("rootfsfile")
        let root = base + "/root"
        try FileSystem.makeDirectories(root + "/etc", mode: 0o755)
        try writeFile(base + "/secret", "host secret\n")
        return (base, root, base + "/secret")
    }

    @Test("reads a regular file inside the root")
    func readsInside() throws {
        let (base, root, _) = try makeRoot()
        defer { cleanup(base) }
        try writeFile(root + "/etc/passwd", "root:x:0:0::/root:/bin/sh\n")
        let bytes = try RootfsFile.read("/etc/passwd", inRoot: root)
        #expect(bytes.map { String(decoding: $0, as: UTF8.self) } == "root:x:0:0::/root:/bin/sh\n")
        #expect(try RootfsFile.read("etc/passwd", inRoot: root) == bytes)
    }

    @Test("a missing file is nil")
    func missing() throws {
        let (base, root, _) = try makeRoot()
        defer { cleanup(base) }
        #expect(try RootfsFile.read("/etc/group", inRoot: root) == nil)
        #expect(try RootfsFile.read("/nonexistent/dir/file", inRoot: root) == nil)
    }

    @Test("symlinks resolve inside the root: absolute and ../ links cannot reach the host")
    func symlinkEscape() throws {
        let (base, root, secret) = try makeRoot()
        defer { cleanup(base) }
        // An absolute link to the secret's host path, and a relative one climbing out of the root.
        #expect(symlink(secret, root + "/etc/passwd") == 0)
        #expect(symlink("../../../../../../../../" + secret, root + "/etc/group") == 0)
        #expect(try RootfsFile.read("/etc/passwd", inRoot: root) == nil)
        #expect(try RootfsFile.read("/etc/group", inRoot: root) == nil)
        // The same absolute target inside the root is what the link means to the container.
        try FileSystem.makeDirectories(root + FileSystem.parent(of: secret), mode: 0o755)
        try writeFile(root + secret, "container file\n")
        #expect(try RootfsFile.read("/etc/passwd", inRoot: root).map { String(decoding: $0, as: UTF8.self) } == "container file\n")
        #expect(try RootfsFile.read("/etc/group", inRoot: root).map { String(decoding: $0, as: UTF8.self) } == "container file\n")
    }

    @Test("a link through /proc/self/root stays inside the root")
    func magicLinks() throws {
        let (base, root, _) = try makeRoot()
        defer { cleanup(base) }
        // Resolved in the root, /proc/self/root is not the host's proc: the target is absent.
        #expect(symlink("/proc/self/root/etc/hostname", root + "/etc/passwd") == 0)
        #expect(try RootfsFile.read("/etc/passwd", inRoot: root) == nil)
    }

    @Test("a FIFO, a directory or an oversized file is an error, and a FIFO does not block")
    func notRegular() throws {
        let (base, root, _) = try makeRoot()
        defer { cleanup(base) }
        #expect(mkfifo(root + "/etc/passwd", 0o644) == 0)
        #expect(throws: FascoError.self) { try RootfsFile.read("/etc/passwd", inRoot: root) }
        #expect(throws: FascoError.self) { try RootfsFile.read("/etc", inRoot: root) }
        try writeFile(root + "/etc/group", String(repeating: "x", count: 100))
        let error = #expect(throws: FascoError.self) { try RootfsFile.read("/etc/group", inRoot: root, limit: 10) }
        #expect(error?.code == .resourceExhausted)
        #expect(try RootfsFile.read("/etc/group", inRoot: root, limit: 100)?.count == 100)
    }

    @Test("a root that is not a directory is FAILED_PRECONDITION")
    func badRoot() throws {
        let error = #expect(throws: FascoError.self) { try RootfsFile.read("/etc/passwd", inRoot: "/nonexistent-fasco-root") }
        #expect(error?.code == .failedPrecondition)
    }
}
