import FascoCore
import Foundation
import Glibc
import Testing

/// FileSystem.removeTree never deletes through a mount: a root filesystem or an idmapped layer
/// left mounted below a container's directory keeps the files it shows (a shared snapshot's).
@Suite("removing trees stops at mounts", .serialized)
struct RemoveTreeTests {
    @Test("a bind mount or a tmpfs below, or the tree itself mounted: FAILED_PRECONDITION, and what the mount shows is untouched")
    func mountsAreNotCrossed() throws {
        let base = try FileSystem.makeTemporaryDirectory(prefix: "fasco-rmtree-")
        defer {
            for target in ["\(base)/tree/bound", "\(base)/tree/tmp", "\(base)/mounted"] { umount2(target, Int32(MNT_DETACH)) }
            try? FileManager.default.removeItem(atPath: base)
        }
        // What a bind mount would expose: a "shared snapshot" outside the tree.
        try FileSystem.makeDirectories(base + "/shared/etc", mode: 0o755)
        try FileSystem.writeAtomically(Array("keep".utf8), to: base + "/shared/etc/passwd", durable: false)
        try FileSystem.makeDirectories(base + "/tree/bound", mode: 0o755)
        try FileSystem.makeDirectories(base + "/tree/plain/sub", mode: 0o755)
        try FileSystem.writeAtomically(Array("x".utf8), to: base + "/tree/plain/sub/file", durable: false)
        try #require(mount(base + "/shared", base + "/tree/bound", nil, UInt(MS_BIND), nil) == 0, "bind mount: \(errno)")

        do {
            try FileSystem.removeTree(base + "/tree")
            Issue.record("a tree holding a bind mount was removed")
        } catch {
            #expect(error.code == .failedPrecondition && error.message.contains("\(base)/tree/bound"), "\(error)")
        }
        #expect(FileSystem.exists(base + "/shared/etc/passwd"), "the bind-mounted files are untouched")
        #expect(try FileSystem.read(base + "/shared/etc/passwd") == Array("keep".utf8))

        // Unmounted, the same tree goes entirely.
        #expect(umount2(base + "/tree/bound", 0) == 0)
        try FileSystem.removeTree(base + "/tree")
        #expect(!FileSystem.exists(base + "/tree"))

        // A tmpfs below, and a tree that is itself a mount point.
        try FileSystem.makeDirectories(base + "/tree/tmp", mode: 0o755)
        try #require(mount("tmpfs", base + "/tree/tmp", "tmpfs", 0, "size=1m") == 0)
        try FileSystem.writeAtomically(Array("t".utf8), to: base + "/tree/tmp/inside", durable: false)
        #expect(throws: FascoError.self) { try FileSystem.removeTree(base + "/tree") }
        #expect(FileSystem.exists(base + "/tree/tmp/inside"))
        try FileSystem.makeDirectories(base + "/mounted", mode: 0o755)
        try #require(mount(base + "/shared", base + "/mounted", nil, UInt(MS_BIND), nil) == 0)
        do {
            try FileSystem.removeTree(base + "/mounted")
            Issue.record("a mount point was removed through")
        } catch {
            #expect(error.code == .failedPrecondition && error.message.contains("\(base)/mounted is a mount point"), "\(error)")
        }
        #expect(FileSystem.exists(base + "/shared/etc/passwd"))
    }
}
