import FascoCore
@testable import ImageStore
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("content store")
struct ContentStoreTests {
    let payload = Array("the quick brown fox jumps over the lazy dog".utf8)

    @Test("a blob becomes visible under its digest only when committed whole")
    func ingestAndCommit() throws {
        let root = try makeTestDirectory("content")
        defer { cleanup(root) }
        let store = try ContentStore(root: root)
        let digest = Digest.of(payload)
        let writer = try store.ingest(digest, size: Int64(payload.count))
        try payload[..<10].withUnsafeBytes { try writer.append($0) }
        #expect(!store.contains(digest), "a partial download is never visible under its digest")
        #expect(try store.partialDownloads().count == 1)
        try payload[10...].withUnsafeBytes { try writer.append($0) }
        try writer.commit()
        #expect(store.contains(digest))
        #expect(store.size(of: digest) == Int64(payload.count))
        #expect(try store.read(digest) == payload)
        #expect(try store.partialDownloads().isEmpty)
        #expect(try store.allDigests() == [digest])
    }

    @Test("a partial download survives its writer and is resumed")
    func resume() throws {
        let root = try makeTestDirectory("content")
        defer { cleanup(root) }
        let store = try ContentStore(root: root)
        let digest = Digest.of(payload)
        do {
            let first = try store.ingest(digest, size: Int64(payload.count))
            try payload[..<20].withUnsafeBytes { try first.append($0) }
        }  // the writer goes away as a killed process's would
        let second = try store.ingest(digest, size: Int64(payload.count))
        #expect(second.written == 20)
        try payload[20...].withUnsafeBytes { try second.append($0) }
        try second.commit()
        #expect(try store.read(digest) == payload)
    }

    @Test("wrong content, wrong size and overlong content are refused and leave nothing")
    func verification() throws {
        let root = try makeTestDirectory("content")
        defer { cleanup(root) }
        let store = try ContentStore(root: root)
        let digest = Digest.of(payload)
        var tampered = payload
        tampered[3] ^= 0xFF
        let bad = try store.ingest(digest, size: Int64(payload.count))
        try tampered.withUnsafeBytes { try bad.append($0) }
        #expect { try bad.commit() } throws: { error in
            let error = error as? FascoError
            return error?.code == .failedPrecondition && error?.message.contains("does not match its digest") == true
        }
        #expect(!store.contains(digest))
        #expect(try store.partialDownloads().isEmpty, "corrupt partial content is discarded")

        let short = try store.ingest(digest, size: Int64(payload.count))
        try payload[..<5].withUnsafeBytes { try short.append($0) }
        #expect { try short.commit() } throws: { ($0 as? FascoError)?.message.contains("received 5 bytes") == true }

        let long = try store.ingest(digest, size: 4)
        #expect { try payload.withUnsafeBytes { try long.append($0) } } throws: {
            ($0 as? FascoError)?.message.contains("larger than its descriptor") == true
        }
        #expect(throws: FascoError.self) { try store.write(tampered, as: digest) }
    }

    @Test("stale partial downloads are removed, recent ones kept for resuming")
    func stalePartials() throws {
        let root = try makeTestDirectory("content")
        defer { cleanup(root) }
        let store = try ContentStore(root: root)
        let old = try store.ingest(Digest.of(Array("old".utf8)), size: 3)
        try Array("ol".utf8).withUnsafeBytes { try old.append($0) }
        let recent = try store.ingest(Digest.of(Array("new".utf8)), size: 3)
        try Array("ne".utf8).withUnsafeBytes { try recent.append($0) }
        var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, old.partialPath, &times, 0) == 0)
        try store.removePartialDownloads(olderThan: 3600)
        #expect(try store.partialDownloads() == [FileSystem.basename(of: recent.partialPath)])
    }

    @Test("reading detects corruption on disk")
    func corruptOnDisk() throws {
        let root = try makeTestDirectory("content")
        defer { cleanup(root) }
        let store = try ContentStore(root: root)
        let digest = Digest.of(payload)
        let path = try store.write(payload, as: digest)
        try FileSystem.writeAtomically(Array("tampered".utf8), to: path)
        #expect { try store.read(digest) } throws: { ($0 as? FascoError)?.message.contains("corrupt") == true }
        try store.delete(digest)
        #expect { try store.read(digest) } throws: { ($0 as? FascoError)?.code == .notFound }
    }
}

@Suite("snapshots")
struct SnapshotStoreTests {
    @Test("chain IDs follow the OCI definition")
    func chainIDs() throws {
        let a = Digest.of(Array("layer a".utf8))
        let b = Digest.of(Array("layer b".utf8))
        let chain = ChainID.chain([a, b])
        #expect(chain[0] == a)
        #expect(chain[1] == Digest.of(Array("\(a) \(b)".utf8)))
        #expect(ChainID.chain([]).isEmpty)
    }

    @Test("a layer over its parents is an overlay upper: deletions become whiteouts")
    func layeredSnapshots() throws {
        let root = try makeTestDirectory("snapshots")
        defer { cleanup(root) }
        let store = try SnapshotStore(root: root)
        let base = Digest.of(Array("base".utf8))
        let top = Digest.of(Array("top".utf8))
        try store.create(base, parents: []) { directory throws(FascoError) in
            try writeFileTyped(directory + "/keep", "kept")
            try writeFileTyped(directory + "/gone", "deleted above")
        }
        try store.create(top, parents: [base]) { directory throws(FascoError) in
            #expect(readText(directory + "/keep") == "kept", "the parent shows through")
            unlink(directory + "/gone")
            try writeFileTyped(directory + "/new", "added")
        }
        #expect(store.contains(base) && store.contains(top))
        let upper = store.path(of: top)
        #expect(fileType(upper + "/gone") == S_IFCHR, "overlayfs whiteout in the upper layer")
        #expect(readText(upper + "/new") == "added")
        #expect(fileType(upper + "/keep") == nil, "unchanged files stay in the parent only")
        #expect(Set(try store.all()) == [base, top])

        // A failing apply leaves nothing behind.
        let broken = Digest.of(Array("broken".utf8))
        #expect(throws: FascoError.self) {
            try store.create(broken, parents: [base]) { _ throws(FascoError) in throw FascoError.internal("boom") }
        }
        #expect(!store.contains(broken))
        #expect(try FileSystem.list(root).filter { $0.hasPrefix("tmp-") }.isEmpty)

        try store.remove(top)
        #expect(!store.contains(top))
        #expect(store.contains(base))
    }

    @Test("a mounted root filesystem shows the layers merged, with a private writable layer")
    func mountRootfs() throws {
        let root = try makeTestDirectory("snapshots")
        defer { cleanup(root) }
        let store = try SnapshotStore(root: root)
        let base = Digest.of(Array("base".utf8))
        try store.create(base, parents: []) { directory throws(FascoError) in
            try writeFileTyped(directory + "/etc-hostname", "image")
        }
        let container = root + "/container"
        for sub in ["upper", "work", "rootfs"] { try FileSystem.makeDirectories(container + "/" + sub) }
        try Overlay.mount(lowers: [store.path(of: base)], upper: container + "/upper", work: container + "/work", at: container + "/rootfs")
        defer { Overlay.unmount(container + "/rootfs") }
        #expect(readText(container + "/rootfs/etc-hostname") == "image")
        try writeFile(container + "/rootfs/written", "by the container")
        #expect(readText(container + "/upper/written") == "by the container")
        #expect(fileType(store.path(of: base) + "/written") == nil, "the image layer is untouched")
    }

    @Test("recovery removes half-built snapshots")
    func recovery() throws {
        let root = try makeTestDirectory("snapshots")
        defer { cleanup(root) }
        let store = try SnapshotStore(root: root)
        try FileSystem.makeDirectories(root + "/tmp-0123456789abcdef-1/fs")
        try store.recover()
        #expect(try FileSystem.list(root).isEmpty)
    }
}

func writeFileTyped(_ path: String, _ text: String) throws(FascoError) {
    try FileSystem.writeAtomically(Array(text.utf8), to: path, mode: 0o644)
}
