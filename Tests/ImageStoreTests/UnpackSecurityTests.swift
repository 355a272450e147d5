import FascoCore
import Foundation
import Glibc
import ImageStore
import OCISpec
import Testing

@Suite("layer unpacking: entries that try to leave the root")
struct UnpackSecurityTests {
    /// Applies `entries` and returns the error, which must be `.invalidArgument`.
    private func rejection(_ scratch: UnpackScratch, _ entries: [UnpackTarSpec]) throws -> FascoError {
        let error = try #require(throws: FascoError.self) { try scratch.apply(entries) }
        #expect(error.code == .invalidArgument)
        return error
    }

    @Test("a name with .. climbing above the root is rejected, naming the entry")
    func dotDotEscape() throws {
        let scratch = try UnpackScratch()
        let error = try rejection(scratch, [.file("../../etc/evil", "pwned")])
        #expect(error.message.contains("../../etc/evil"))
        let error2 = try rejection(scratch, [.file("a/../../outside/evil", "pwned")])
        #expect(error2.message.contains("a/../../outside/evil"))
        #expect(UnpackInspect.isEmptyDirectory(scratch.outside))
        #expect(!UnpackInspect.exists(scratch.path + "/etc"))
    }

    @Test(".. that stays inside the root is fine")
    func dotDotInside() throws {
        let scratch = try UnpackScratch()
        try scratch.apply([.file("a/b/../c", "c"), .file("./d/./e", "e")])
        #expect(UnpackInspect.contents(scratch.inRoot("a/c")) == "c")
        #expect(UnpackInspect.contents(scratch.inRoot("d/e")) == "e")
        #expect(!UnpackInspect.exists(scratch.inRoot("a/b")))
    }

    @Test("an absolute name lands inside the root")
    func absoluteName() throws {
        let scratch = try UnpackScratch()
        try scratch.apply([.file("/abs/path", "inside"), .symlink("/abs/link", "/abs/path")])
        #expect(UnpackInspect.contents(scratch.inRoot("abs/path")) == "inside")
        #expect(UnpackInspect.readlink(scratch.inRoot("abs/link")) == "/abs/path")
    }

    @Test("a symlink to an outside directory followed by a file through it writes inside the root")
    func symlinkThenFile() throws {
        let scratch = try UnpackScratch()
        try scratch.apply([
            .symlink("evil", scratch.outside),
            .file("evil/file", "pwned"),
            .dir("evil/dir/"),
            .symlink("evil/link", "x"),
        ])
        #expect(UnpackInspect.isEmptyDirectory(scratch.outside))
        // RESOLVE_IN_ROOT: the absolute target is taken inside the root, as containerd does.
        #expect(UnpackInspect.readlink(scratch.inRoot("evil")) == scratch.outside)
        #expect(UnpackInspect.contents(scratch.inRoot(scratch.outside + "/file")) == "pwned")
        #expect(UnpackInspect.type(scratch.inRoot(scratch.outside + "/dir")) == 0o040000)
    }

    @Test("a lower-layer symlink to /etc does not expose the host's /etc")
    func lowerSymlinkToEtc() throws {
        let scratch = try UnpackScratch()
        let hostPasswd = UnpackInspect.bytes("/etc/passwd")
        let hostPasswdInfo = UnpackInspect.lstat("/etc/passwd")
        try scratch.apply([.symlink("link", "/etc"), .dir("etc/")])
        try scratch.apply([.file("link/passwd", "root::0:0::/:/bin/sh\n")], compression: .gzip)
        #expect(UnpackInspect.contents(scratch.inRoot("etc/passwd")) == "root::0:0::/:/bin/sh\n")
        #expect(UnpackInspect.bytes("/etc/passwd") == hostPasswd)
        #expect(UnpackInspect.lstat("/etc/passwd")?.st_ino == hostPasswdInfo?.st_ino)
        #expect(UnpackInspect.lstat("/etc/passwd")?.st_mtim.tv_sec == hostPasswdInfo?.st_mtim.tv_sec)
    }

    @Test("a symlink chain climbing with .. stays inside the root")
    func symlinkChain() throws {
        let scratch = try UnpackScratch()
        try scratch.apply([
            .symlink("up", "../../../../../.."),
            .symlink("chain", "up/outside"),
            .symlink("chain2", "chain/../../.."),
            .file("chain/escaped", "e"),
            .file("chain2/escaped2", "e2"),
        ])
        #expect(UnpackInspect.isEmptyDirectory(scratch.outside))
        #expect(!UnpackInspect.exists(scratch.path + "/escaped2"))
        #expect(UnpackInspect.contents(scratch.inRoot("outside/escaped")) == "e")
        #expect(UnpackInspect.contents(scratch.inRoot("escaped2")) == "e2")
    }

    @Test("a file entry over a symlink replaces the symlink, not its target")
    func fileOverSymlink() throws {
        let scratch = try UnpackScratch()
        let victim = scratch.outside + "/victim"
        #expect(FileManager.default.createFile(atPath: victim, contents: Data("original".utf8)))
        try scratch.apply([.symlink("target", victim)])
        try scratch.apply([.file("target", "replaced"), UnpackTarSpec("target", .file([]), mode: 0o777)])
        #expect(UnpackInspect.contents(victim) == "original")
        #expect(UnpackInspect.mode(victim) == 0o644)
        #expect(UnpackInspect.type(scratch.inRoot("target")) == 0o100000)
    }

    @Test("a hard link whose target climbs above the root is rejected")
    func hardlinkEscape() throws {
        let scratch = try UnpackScratch()
        let error = try rejection(scratch, [.hardlink("passwd", "../../etc/passwd")])
        #expect(error.message.contains("passwd"))
        #expect(!UnpackInspect.exists(scratch.inRoot("passwd")))
    }

    @Test("a hard link through a symlink resolves inside the root, never to a host file")
    func hardlinkThroughSymlink() throws {
        let scratch = try UnpackScratch()
        let hostNlink = UnpackInspect.lstat("/etc/passwd")?.st_nlink
        // <root>/etc/passwd does not exist, so the link has no target.
        let error = try rejection(scratch, [.symlink("hostetc", "/etc"), .hardlink("stolen", "hostetc/passwd")])
        #expect(error.message.contains("stolen"))
        #expect(!UnpackInspect.exists(scratch.inRoot("stolen")))
        #expect(UnpackInspect.lstat("/etc/passwd")?.st_nlink == hostNlink)

        // With a <root>/etc/passwd the same link goes to that file.
        let second = try UnpackScratch()
        try second.apply([.dir("etc/"), .file("etc/passwd", "in root"), .symlink("hostetc", "/etc"),
                          .hardlink("stolen", "hostetc/passwd")])
        #expect(UnpackInspect.lstat(second.inRoot("stolen"))?.st_ino == UnpackInspect.lstat(second.inRoot("etc/passwd"))?.st_ino)
    }

    @Test("a hard link to a symlink links the symlink, not what it points at")
    func hardlinkToSymlink() throws {
        let scratch = try UnpackScratch()
        let victim = scratch.outside + "/victim"
        #expect(FileManager.default.createFile(atPath: victim, contents: Data("v".utf8)))
        try scratch.apply([.symlink("s", victim), .hardlink("h", "s")])
        #expect(UnpackInspect.type(scratch.inRoot("h")) == 0o120000)
        #expect(UnpackInspect.lstat(victim)?.st_nlink == 1)
    }

    @Test("whiteouts of . and .. are rejected and remove nothing", arguments: [".wh...", "sub/.wh...", ".wh..", ".wh."])
    func whiteoutDotDot(name: String) throws {
        let scratch = try UnpackScratch()
        try scratch.apply([.dir("sub/"), .file("sub/keep", "k"), .file("keep", "k")])
        let error = try rejection(scratch, [.marker(name)])
        #expect(error.message.contains(name))
        #expect(UnpackInspect.contents(scratch.inRoot("sub/keep")) == "k")
        #expect(UnpackInspect.contents(scratch.inRoot("keep")) == "k")
        #expect(UnpackInspect.exists(scratch.root))
    }

    @Test("a whiteout through a symlink removes inside the root only")
    func whiteoutThroughSymlink() throws {
        let scratch = try UnpackScratch()
        let victim = scratch.outside + "/victim"
        #expect(FileManager.default.createFile(atPath: victim, contents: Data("v".utf8)))
        try scratch.apply([.symlink("out", scratch.outside)])
        try scratch.apply([.marker("out/.wh.victim"), .marker("out/.wh..wh..opq")])
        #expect(UnpackInspect.contents(victim) == "v")
    }

    @Test("a non-directory entry cannot replace the root")
    func replaceRoot() throws {
        let scratch = try UnpackScratch()
        _ = try rejection(scratch, [.file("./", "x")])
        _ = try rejection(scratch, [.symlink(".", "/")])
        #expect(UnpackInspect.type(scratch.root) == 0o040000)
    }
}
