import FascoCore
import Foundation
import Glibc
import ImageStore
import OCISpec
import Testing

@Suite("layer unpacking: whiteouts and replacements")
struct UnpackWhiteoutTests {
    /// A lower layer with a bit of everything.
    static let lower: [UnpackTarSpec] = [
        .dir("a/"),
        .file("a/file", "lower"),
        .file("a/other", "lower-other"),
        .dir("a/tree/"),
        .dir("a/tree/deep/"),
        .file("a/tree/deep/x", "x"),
        .symlink("a/link", "/etc"),
        .dir("opq/"),
        .file("opq/lower1", "1"),
        .dir("opq/lowerdir/"),
        .file("opq/lowerdir/f", "f"),
        .dir("opq/merged/"),
        .file("opq/merged/lower", "old"),
        .dir("late/"),
        .file("late/lower", "old"),
        .dir("late/merged/"),
        .file("late/merged/lower", "old"),
        .file("same", "lower-same"),
    ]

    @Test("whiteouts delete lower files, trees and symlinks and leave no marker")
    func whiteouts() throws {
        let scratch = try UnpackScratch()
        try scratch.apply(Self.lower)
        try scratch.apply([
            .marker("a/.wh.file"),
            .marker("a/.wh.tree"),
            .marker("a/.wh.link"),
            .marker("a/.wh.never-existed"),
            .marker("missing-dir/.wh.x"),
        ], compression: .zstd)
        let root = scratch.root
        #expect(!UnpackInspect.exists(root + "/a/file"))
        #expect(!UnpackInspect.exists(root + "/a/tree"))
        #expect(!UnpackInspect.exists(root + "/a/link"))
        #expect(UnpackInspect.contents(root + "/a/other") == "lower-other")
        #expect(UnpackInspect.children(root + "/a") == ["other"])
        // A whiteout in a directory that does not exist creates nothing.
        #expect(!UnpackInspect.exists(root + "/missing-dir"))
    }

    @Test("an opaque marker hides lower children but keeps this layer's, in either order")
    func opaque() throws {
        let scratch = try UnpackScratch()
        try scratch.apply(Self.lower)
        try scratch.apply([
            // Marker first (the usual order).
            .dir("opq/"),
            .marker("opq/.wh..wh..opq"),
            .file("opq/new", "new"),
            .dir("opq/merged/"),
            .file("opq/merged/new", "new"),
            // Marker after the layer's own children, one of them inside a lower directory it merged into.
            .dir("late/"),
            .file("late/new", "new"),
            .file("late/merged/new", "new"),
            .marker("late/.wh..wh..opq"),
        ], compression: .gzip)
        let root = scratch.root
        #expect(UnpackInspect.children(root + "/opq") == ["merged", "new"])
        #expect(UnpackInspect.children(root + "/opq/merged") == ["new"])
        #expect(UnpackInspect.children(root + "/late") == ["merged", "new"])
        #expect(UnpackInspect.children(root + "/late/merged") == ["new"])
        #expect(UnpackInspect.contents(root + "/late/merged/new") == "new")
        // The rest of the lower tree is untouched.
        #expect(UnpackInspect.contents(root + "/a/file") == "lower")
    }

    @Test("an opaque marker at the top level empties the root of lower content")
    func opaqueRoot() throws {
        let scratch = try UnpackScratch()
        try scratch.apply(Self.lower)
        try scratch.apply([.marker(".wh..wh..opq"), .file("only", "me")])
        #expect(UnpackInspect.children(scratch.root) == ["only"])
    }

    @Test("a whiteout only hides lower content, not what the same layer wrote")
    func sameLayerWhiteout() throws {
        let scratch = try UnpackScratch()
        try scratch.apply(Self.lower)
        try scratch.apply([
            .file("same", "upper-same"),
            .marker(".wh.same"),
            .dir("a/tree/"),
            .file("a/tree/new", "n"),
            .marker("a/.wh.tree"),
        ])
        #expect(UnpackInspect.contents(scratch.inRoot("same")) == "upper-same")
        // The directory this layer merged into stays with this layer's content only.
        #expect(UnpackInspect.children(scratch.inRoot("a/tree")) == ["new"])
    }

    @Test("reserved .wh..wh. names other than the opaque marker create nothing")
    func reservedWhiteouts() throws {
        let scratch = try UnpackScratch()
        try scratch.apply([.dir("d/"), .file("d/f", "f")])
        try scratch.apply([.marker(".wh..wh.plnk"), .marker("d/.wh..wh.aufs")])
        #expect(UnpackInspect.children(scratch.root) == ["d"])
        #expect(UnpackInspect.children(scratch.inRoot("d")) == ["f"])
    }

    @Test("an entry of another type replaces what is there; a directory over a directory merges")
    func replacements() throws {
        let scratch = try UnpackScratch()
        try scratch.apply([
            .dir("dir-to-file/"), .file("dir-to-file/child", "c"), .dir("dir-to-file/sub/"),
            .file("file-to-dir", "f"),
            .dir("dir-to-link/"), .file("dir-to-link/child", "c"),
            .symlink("link-to-file", "/etc/passwd"),
            UnpackTarSpec("merge/", .directory, mode: 0o700, mtime: 1_000),
            .file("merge/lower", "l"),
            .fifo("fifo-to-file"),
            .dir("realdir/"), .file("realdir/keep", "k"),
            .symlink("link-to-dir", "realdir"),
        ])
        try scratch.apply([
            .file("dir-to-file", "now a file"),
            .dir("file-to-dir/"), .file("file-to-dir/inside", "i"),
            .symlink("dir-to-link", "elsewhere"),
            .file("link-to-file", "replaced the link"),
            UnpackTarSpec("merge/", .directory, mode: 0o750, mtime: 2_000),
            .file("merge/upper", "u"),
            .file("fifo-to-file", "regular"),
            .dir("link-to-dir/"), .file("link-to-dir/new", "n"),
        ])
        let root = scratch.root
        #expect(UnpackInspect.type(root + "/dir-to-file") == 0o100000)
        #expect(UnpackInspect.contents(root + "/dir-to-file") == "now a file")
        #expect(UnpackInspect.type(root + "/file-to-dir") == 0o040000)
        #expect(UnpackInspect.contents(root + "/file-to-dir/inside") == "i")
        #expect(UnpackInspect.readlink(root + "/dir-to-link") == "elsewhere")
        #expect(UnpackInspect.type(root + "/link-to-file") == 0o100000)
        #expect(UnpackInspect.contents(root + "/link-to-file") == "replaced the link")
        #expect(UnpackInspect.children(root + "/merge") == ["lower", "upper"])
        #expect(UnpackInspect.mode(root + "/merge") == 0o750)
        #expect(UnpackInspect.lstat(root + "/merge")?.st_mtim.tv_sec == 2_000)
        #expect(UnpackInspect.type(root + "/fifo-to-file") == 0o100000)
        // A directory entry over a symlink replaces the symlink; the directory it pointed to is untouched.
        #expect(UnpackInspect.type(root + "/link-to-dir") == 0o040000)
        #expect(UnpackInspect.children(root + "/link-to-dir") == ["new"])
        #expect(UnpackInspect.children(root + "/realdir") == ["keep"])
    }

    @Test("the same path twice in one layer: the later entry wins")
    func duplicateEntries() throws {
        let scratch = try UnpackScratch()
        try scratch.apply([
            .file("x", "first"), .file("x", "second"),
            .dir("d/"), .file("d/in", "i"), .file("d", "file now"),
            .file("h", "h"), .hardlink("h2", "h"), .hardlink("h2", "h"), .hardlink("h", "h"),
        ])
        #expect(UnpackInspect.contents(scratch.inRoot("x")) == "second")
        #expect(UnpackInspect.contents(scratch.inRoot("d")) == "file now")
        #expect(UnpackInspect.contents(scratch.inRoot("h")) == "h")
        #expect(UnpackInspect.lstat(scratch.inRoot("h"))?.st_nlink == 2)
    }

    @Test("a file under an existing non-directory is an error, not a replacement")
    func fileUnderFile() throws {
        let scratch = try UnpackScratch()
        try scratch.apply([.file("plain", "p")])
        let error = try #require(throws: FascoError.self) { try scratch.apply([.file("plain/child", "c")]) }
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("plain/child"))
        #expect(UnpackInspect.contents(scratch.inRoot("plain")) == "p")
    }
}

extension UnpackTarSpec {
    static func fifo(_ path: String) -> UnpackTarSpec { UnpackTarSpec(path, .fifo) }
}
