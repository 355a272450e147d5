import FascoCore
@testable import ImageStore
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("container root filesystems", .serialized)
struct RootfsTests {
    @Test("a container's rootfs is an overlay over its image, created and removed with it")
    func lifecycle() async throws {
        _ = try #require(try Kit.pushed()["127.0.0.1:5000/fasco/busybox:latest"])
        let (store, root) = try Kit.store()
        defer { cleanup(root) }
        let record = try await store.pull("127.0.0.1:5000/fasco/busybox:latest")
        let directory = root + "/containers/c1"
        let rootfs = try await store.prepareRootfs(image: record.id.description, owner: "c1", directory: directory).path
        #expect(fileType(rootfs + "/bin/busybox") == S_IFREG)
        try writeFile(rootfs + "/tmp/written", "container data")
        #expect(readText(directory + "/upper/tmp/written") == "container data")
        let top = try #require(record.chainIDs.last)
        #expect(fileType(store.snapshots.path(of: top) + "/tmp/written") == nil, "the image is never written")

        // Removing the image keeps what the container uses.
        try await store.remove(record.id.description)
        #expect(store.snapshots.contains(top))
        #expect(fileType(rootfs + "/bin/busybox") == S_IFREG)

        try await store.removeRootfs(owner: "c1", directory: directory)
        #expect(!FileSystem.exists(directory))
        #expect(!store.snapshots.contains(top), "released and collected")
        try await store.removeRootfs(owner: "c1", directory: directory)  // idempotent
    }

    @Test("unlocking a root filesystem whose image is no longer encrypted (its plain form arrived meanwhile) mounts the plain layers")
    func unlockPlain() async throws {
        _ = try #require(try Kit.pushed()["127.0.0.1:5000/fasco/busybox:latest"])
        let (store, root) = try Kit.store()
        defer { cleanup(root) }
        let record = try await store.pull("127.0.0.1:5000/fasco/busybox:latest")
        let directory = root + "/containers/c1"
        // As prepareRootfs leaves a locked one: its directories, nothing mounted.
        for sub in ["upper", "work", "rootfs"] { try FileSystem.makeDirectories(directory + "/" + sub, mode: 0o755) }
        try await store.unlockRootfs(image: record.id.description, directory: directory, keys: LayerKeys())
        defer { Overlay.unmount(directory + "/rootfs") }
        #expect(fileType(directory + "/rootfs/bin/busybox") == S_IFREG)
    }

    @Test("a lease file that cannot be read keeps every snapshot from collection (it may be a running container's)")
    func unreadableLease() async throws {
        _ = try #require(try Kit.pushed()["127.0.0.1:5000/fasco/busybox:latest"])
        let (store, root) = try Kit.store()
        defer { cleanup(root) }
        let record = try await store.pull("127.0.0.1:5000/fasco/busybox:latest")
        let directory = root + "/containers/c1"
        try await store.prepareRootfs(image: record.id.description, owner: "c1", directory: directory)
        let top = try #require(record.chainIDs.last)
        // The lease is damaged (a torn write on a host without atomic renames, a disk error).
        try FileSystem.writeAtomically(Array("{not json".utf8), to: root + "/images/leases/c1", durable: false)
        try await store.remove(record.id.description)
        #expect(store.snapshots.contains(top), "the running container's snapshot stays")
        try await store.removeRootfs(owner: "c1", directory: directory)
        #expect(!store.snapshots.contains(top), "collected once the lease is gone")
    }

    @Test("a retired rootfs leaves its place at once; its tree and what its lease kept go in the background")
    func retire() async throws {
        _ = try #require(try Kit.pushed()["127.0.0.1:5000/fasco/busybox:latest"])
        // A delay no test waits out: only settle runs the clean-up.
        let (store, root) = try Kit.store(cleanupDelay: .seconds(3600))
        defer { cleanup(root) }
        let record = try await store.pull("127.0.0.1:5000/fasco/busybox:latest")
        let directory = root + "/containers/c1"
        let trash = root + "/containers/.trash"
        let rootfs = try await store.prepareRootfs(image: record.id.description, owner: "c1", directory: directory).path
        try writeFile(rootfs + "/tmp/written", "container data")
        try await store.remove(record.id.description)
        let top = try #require(record.chainIDs.last)
        #expect(isMounted(rootfs))

        try await store.retireRootfs(owner: "c1", directory: directory, trash: trash)
        #expect(!FileSystem.exists(directory))
        #expect(!isMounted(rootfs), "unmounted before it returns")
        #expect(try await store.leases().isEmpty, "the lease is dropped before it returns")
        let retired = try FileSystem.list(trash)
        #expect(retired.count == 1)
        #expect(readText("\(trash)/\(retired.first ?? "")/upper/tmp/written") == "container data", "deleted later, not yet")
        #expect(store.snapshots.contains(top), "collected later, not yet")
        try await store.retireRootfs(owner: "c1", directory: directory, trash: trash)  // idempotent

        try await store.settle()
        #expect(try FileSystem.list(trash).isEmpty)
        #expect(!store.snapshots.contains(top))
        #expect(try store.content.allDigests().isEmpty)
    }

    @Test("the background clean-up runs by itself after its delay, once for everything retired meanwhile")
    func backgroundCleanup() async throws {
        _ = try #require(try Kit.pushed()["127.0.0.1:5000/fasco/busybox:latest"])
        let (store, root) = try Kit.store(cleanupDelay: .milliseconds(50))
        defer { cleanup(root) }
        let record = try await store.pull("127.0.0.1:5000/fasco/busybox:latest")
        let trash = root + "/containers/.trash"
        for owner in ["c1", "c2"] {
            try await store.prepareRootfs(image: record.id.description, owner: owner, directory: "\(root)/containers/\(owner)")
        }
        try await store.remove(record.id.description)
        for owner in ["c1", "c2"] {
            try await store.retireRootfs(owner: owner, directory: "\(root)/containers/\(owner)", trash: trash)
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while (try FileSystem.list(trash).count > 0 || !store.snapshots.all().isEmpty) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try FileSystem.list(trash).isEmpty)
        #expect(try store.snapshots.all().isEmpty)
        #expect(try store.content.allDigests().isEmpty)
    }

    @Test("an unknown image or a bad owner is refused without leaving anything")
    func refusals() async throws {
        let (store, root) = try Kit.store()
        defer { cleanup(root) }
        await #expect { try await store.prepareRootfs(image: "nope:1", owner: "c1", directory: root + "/c") } throws: {
            ($0 as? FascoError)?.code == .notFound
        }
        #expect(!FileSystem.exists(root + "/c"))
        #expect(try await store.leases().isEmpty)
    }
}

@Suite("garbage collection during pulls", .serialized)
struct CollectionDuringPullTests {
    @Test("removing one image while another is being pulled keeps the pull's content")
    func removeWhilePulling() async throws {
        _ = try #require(try Kit.pushed()["127.0.0.1:5000/fasco/big:latest"])
        let (store, root) = try Kit.store()
        defer { cleanup(root) }
        let small = try await store.pull("127.0.0.1:5000/fasco/busybox:latest")
        let finished = PullFinished()
        let pulling = Task {
            defer { finished.set() }
            return try await store.pull("127.0.0.1:5000/fasco/big:latest")
        }
        // Let the big pull get going (its first blob stored), then remove the small image (which runs a collection).
        let deadline = ContinuousClock.now + .seconds(60)
        while try store.content.allDigests().count <= 3 {
            try #require(ContinuousClock.now < deadline, "the big pull stored nothing in 60 s")
            try #require(!finished.value, "the big pull ended before it stored a blob")
            try await Task.sleep(for: .milliseconds(1))
        }
        try await store.remove(small.id.description)
        // The collection ran while the pull was under way: otherwise this test proves nothing.
        #expect(!finished.value, "the pull had already finished when the image was removed")
        let big = try await pulling.value
        for digest in [big.id, big.manifestDigest] + big.layers.compactMap({ try? Digest(parsing: $0.digest) }) {
            #expect(store.content.contains(digest), "\(digest) of the pulled image survived the collection")
        }
        for chainID in big.chainIDs { #expect(store.snapshots.contains(chainID)) }
        #expect(!store.content.contains(small.id), "the removed image's content went once the pull finished")
    }
}

/// Set once a pull task ended.
final class PullFinished: Sendable {
    private let state = Mutex(false)
    func set() { state.withLock { $0 = true } }
    var value: Bool { state.withLock { $0 } }
}
