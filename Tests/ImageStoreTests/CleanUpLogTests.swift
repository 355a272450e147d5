import FascoCore
import Foundation
@testable import ImageStore
import Logging
import OCISpec
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
import LogCapture
#endif


/// Runs `body` with the file attribute `flag` set on `path` (`i`: immutable, nothing in or of it
/// can be removed; `a` on a directory: names can be added to it, none removed or renamed), and
/// always clears it again. Needs root (CAP_LINUX_IMMUTABLE) and a file system with attributes.
@discardableResult
func withFileAttribute<T>(_ flag: Character, on path: String, _ body: () async throws -> T) async throws -> T {
    try chattr("+\(flag)", path)
    defer { _ = try? chattr("-\(flag)", path) }
    return try await body()
}

private func chattr(_ change: String, _ path: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
    process.arguments = [change, path]
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw FascoError.internal("chattr \(change) \(path) failed") }
}

/// Waits (at most 10 s) until `condition` holds.
func waitUntil(_ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while !condition() {
        try #require(ContinuousClock.now < deadline, "timed out")
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// Each clean-up step of the image store whose failure is not thrown is logged once, with the
/// step, what it leaves and the error. Every test here forces one step to fail inside its own
/// temporary directory (an immutable file, an append-only directory, always cleared again) and
/// fails when the log line is removed.
@Suite("image store: failed clean-ups are logged", .serialized)
struct ImageStoreCleanUpLogTests {
    static let needsAttributes = geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/chattr")

    /// A store under a fresh test directory that logs into `captured`.
    func store(_ captured: CapturedLogs, cleanupDelay: Duration = .seconds(3600)) throws -> (ImageStore, String) {
        let root = try makeTestDirectory("cleanup-log")
        let store = try ImageStore(root: root + "/images", cleanupDelay: cleanupDelay, logger: capturingLogger(captured),
                                   sources: RegistryHosts().source)
        return (store, root)
    }

    @Test("the background clean-up reports a trash tree it cannot delete, with its path",
          .enabled(if: needsAttributes, "needs root and chattr"))
    func backgroundTreeLeft() async throws {
        let captured = CapturedLogs()
        let (store, root) = try store(captured, cleanupDelay: .milliseconds(20))
        defer { cleanup(root) }
        let tree = root + "/.trash-1"
        try FileSystem.makeDirectories(tree + "/bundle")
        try writeFile(tree + "/bundle/pinned", "x")
        try await withFileAttribute("i", on: tree + "/bundle/pinned") {
            await store.discard(tree)
            try await waitUntil { !captured.cleanUpWarnings.isEmpty }
            try await store.settle()  // the background run has collected too
        }
        let warnings = captured.cleanUpWarnings
        #expect(warnings.count == 1, "\(captured.entries)")
        #expect(warnings.first?.metadata["step"] == "delete a retired root filesystem or trash directory")
        #expect(warnings.first?.metadata["left"] == tree)
        #expect(warnings.first?.metadata["error"]?.contains(tree + "/bundle/pinned") == true)
        #expect(FileSystem.exists(tree + "/bundle/pinned"))
    }

    @Test("a start whose crash leftovers cannot be removed still opens the store, naming what is left",
          .enabled(if: needsAttributes, "needs root and chattr"))
    func recoveryLeftover() async throws {
        let captured = CapturedLogs()
        let root = try makeTestDirectory("cleanup-log")
        defer { cleanup(root) }
        let leftover = root + "/images/snapshots/tmp-0123456789abcdef-1"
        try FileSystem.makeDirectories(leftover + "/fs")
        try writeFile(leftover + "/fs/pinned", "x")
        try await withFileAttribute("i", on: leftover + "/fs/pinned") {
            _ = try ImageStore(root: root + "/images", logger: capturingLogger(captured), sources: RegistryHosts().source)
        }
        let warnings = captured.cleanUpWarnings
        #expect(warnings.count == 1 && warnings.first?.metadata["left"] == leftover, "\(captured.entries)")
        #expect(warnings.first?.metadata["step"] == "remove a partial snapshot a crash left")
    }

    @Test("a start removes the temporary blob files a crash left and reports a snapshot directory without a chain ID, which it leaves")
    func startLeftovers() throws {
        let captured = CapturedLogs()
        let root = try makeTestDirectory("cleanup-log")
        defer { cleanup(root) }
        let temporary = root + "/images/content/blobs/sha256/.tmp-1-2-abc"
        try FileSystem.makeDirectories(root + "/images/content/blobs/sha256")
        try writeFile(temporary, "half a blob")
        let stray = root + "/images/snapshots/0123456789abcdef"
        try FileSystem.makeDirectories(stray + "/fs")
        try writeFile(stray + "/fs/file", "a layer whose chainid is gone")
        _ = try ImageStore(root: root + "/images", logger: capturingLogger(captured), sources: RegistryHosts().source)
        #expect(!FileSystem.exists(temporary))
        #expect(FileSystem.exists(stray + "/fs/file"), "a directory a container may use is never removed")
        #expect(captured.entries.contains { $0.level == .warning && $0.metadata["left"] == stray }, "\(captured.entries)")
    }

    @Test("settle throws the first tree it cannot delete and logs every one",
          .enabled(if: needsAttributes, "needs root and chattr"))
    func settleTreesLeft() async throws {
        let captured = CapturedLogs()
        let (store, root) = try store(captured)
        defer { cleanup(root) }
        for name in ["a", "b"] {
            try FileSystem.makeDirectories("\(root)/.trash-\(name)")
            try writeFile("\(root)/.trash-\(name)/pinned", name)
        }
        try await withFileAttribute("i", on: root + "/.trash-a/pinned") {
            try await withFileAttribute("i", on: root + "/.trash-b/pinned") {
                await store.discard(root + "/.trash-a")
                await store.discard(root + "/.trash-b")
                await #expect { try await store.settle() } throws: { ($0 as? FascoError)?.message.contains(".trash-a/pinned") == true }
            }
        }
        let warnings = captured.cleanUpWarnings
        #expect(warnings.map { $0.metadata["left"] } == [root + "/.trash-a", root + "/.trash-b"], "\(captured.entries)")
    }

    @Test("a background collection that fails is reported: nothing else waits for it",
          .enabled(if: needsAttributes, "needs root and chattr"))
    func backgroundCollectionFails() async throws {
        let captured = CapturedLogs()
        let (store, root) = try store(captured, cleanupDelay: .milliseconds(20))
        defer { cleanup(root) }
        // A blob no image uses, which cannot be deleted.
        let bytes = Array("nothing uses me".utf8)
        let digest = Digest.of(bytes)
        try store.content.write(bytes, as: digest)
        try FileSystem.makeDirectories(root + "/.trash-1")
        try await withFileAttribute("i", on: store.content.path(of: digest)) {
            await store.discard(root + "/.trash-1")
            try await waitUntil { !captured.cleanUpWarnings.isEmpty }
        }
        let warnings = captured.cleanUpWarnings
        #expect(warnings.count == 1, "\(captured.entries)")
        #expect(warnings.first?.metadata["step"] == "collect garbage after deleting the trash")
        #expect(warnings.first?.metadata["error"]?.contains("cannot delete \(digest)") == true)
        #expect(!FileSystem.exists(root + "/.trash-1"), "the trash went before the collection")
        #expect(store.content.contains(digest))
    }
}

/// A source whose manifest request says it began, waits until released, then fails.
struct GatedSource: ImageSource {
    let began: AsyncStream<Void>.Continuation
    let release: AsyncStream<Void>

    func manifest(repository: String, reference: String) async throws(FascoError) -> FetchedManifest {
        began.yield()
        for await _ in release { break }
        throw .unavailable("the test's source serves nothing")
    }

    func blob(repository: String, digest: Digest, size: Int64, into writer: BlobWriter) async throws(FascoError) {
        throw .unavailable("the test's source serves nothing")
    }
}

extension ImageStoreCleanUpLogTests {
    @Test("the collection a removal asked for during a fetch, run when the fetch ends, reports its failure",
          .enabled(if: needsAttributes, "needs root and chattr"))
    func collectionAfterFetchFails() async throws {
        let captured = CapturedLogs()
        let (began, beganContinuation) = AsyncStream<Void>.makeStream()
        let (release, releaseContinuation) = AsyncStream<Void>.makeStream()
        let source = GatedSource(began: beganContinuation, release: release)
        let root = try makeTestDirectory("cleanup-log")
        defer { cleanup(root) }
        let store = try ImageStore(root: root + "/images", logger: capturingLogger(captured), sources: { _, _ in source })
        let bytes = Array("nothing uses me".utf8)
        let digest = Digest.of(bytes)
        try store.content.write(bytes, as: digest)
        try await withFileAttribute("i", on: store.content.path(of: digest)) {
            let pull = Task { try await store.pull("127.0.0.1:5000/fasco/gated:1") }
            for await _ in began { break }
            try await store.garbageCollect()  // waits for the fetch
            #expect(store.content.contains(digest))
            releaseContinuation.yield()
            await #expect(throws: FascoError.self) { try await pull.value }
        }
        let warnings = captured.cleanUpWarnings
        #expect(warnings.count == 1, "\(captured.entries)")
        #expect(warnings.first?.metadata["step"] == "collect garbage after the last fetch")
        #expect(warnings.first?.metadata["error"]?.contains("cannot delete \(digest)") == true)
        #expect(store.content.contains(digest))
    }
}

extension ImageStoreCleanUpLogTests {
    /// Records a one-layer image whose snapshot holds `/hello` (no registry: the layer's blob is
    /// never read).
    func oneLayerImage(in store: ImageStore) async throws -> ImageRecord {
        let diffID = Digest.of(Array("a layer".utf8))
        try store.snapshots.create(diffID, parents: []) { (directory: String) throws(FascoError) in
            try FileSystem.writeAtomically(Array("hi".utf8), to: directory + "/hello")
        }
        let config = ImageConfiguration(architecture: "amd64", os: "linux", rootfs: .init(diffIDs: [diffID.description]))
        return try await store.record(ImageRecord(
            id: Digest.of(Array("a config".utf8)), repoTags: ["127.0.0.1:5000/fasco/one-layer:1"], repoDigests: [],
            manifestDigest: Digest.of(Array("a manifest".utf8)), config: config,
            layers: [Descriptor(mediaType: MediaType.ociLayerGzip, digest: Digest.of(Array("a blob".utf8)).description, size: 6)],
            size: 6, createdAt: 0, pinned: false))
    }

    @Test("a root filesystem that cannot be prepared and whose rollback fails says which directory and lease are left",
          .enabled(if: needsAttributes, "needs root and chattr"))
    func prepareRollbackFails() async throws {
        let captured = CapturedLogs()
        let (store, root) = try store(captured)
        defer { cleanup(root) }
        let record = try await oneLayerImage(in: store)
        let directory = root + "/containers/c1"
        // A file where the overlay's work directory goes: the mount fails, and the file cannot be removed.
        try FileSystem.makeDirectories(directory)
        try writeFile(directory + "/work", "in the way")
        try await withFileAttribute("i", on: directory + "/work") {
            await #expect(throws: FascoError.self) {
                try await store.prepareRootfs(image: record.id.description, owner: "c1", directory: directory)
            }
        }
        let warnings = captured.cleanUpWarnings
        #expect(warnings.count == 1, "\(captured.entries)")
        #expect(warnings.first?.metadata["step"] == "remove the root filesystem that could not be prepared (its directory, then its lease)")
        #expect(warnings.first?.metadata["left"] == directory)
        #expect(warnings.first?.metadata["owner"] == "c1")
        #expect(warnings.first?.metadata["error"]?.contains(directory + "/work") == true)
        #expect(try await store.leases().map(\.owner) == ["c1"], "the lease stays with the directory")
    }
}

extension ImageStoreCleanUpLogTests {
    @Test("a snapshot that fails to build and whose temporary directory cannot be removed says which is left",
          .enabled(if: needsAttributes, "needs root and chattr"))
    func partialSnapshotLeft() async throws {
        let root = try makeTestDirectory("cleanup-log")
        defer { cleanup(root) }
        let captured = CapturedLogs()
        let store = try SnapshotStore(root: root + "/snapshots", logger: capturingLogger(captured))
        let shared = Digest.of(Array("shared".utf8))
        let own = Digest.of(Array("own".utf8))
        // Append-only: the temporary directory can be made, not removed.
        try await withFileAttribute("a", on: store.root) {
            for (chainID, durable) in [(shared, true), (own, false)] {
                #expect(throws: FascoError.self) {
                    try store.create(chainID, parentPaths: [], durable: durable) { (_: String) throws(FascoError) in
                        throw .internal("the layer is bad")
                    }
                }
            }
        }
        let warnings = captured.cleanUpWarnings
        let retried = captured.retriedCleanUps
        #expect(warnings.count == 1 && retried.count == 1, "\(captured.entries)")
        for (entry, chainID) in [(warnings.first, shared), (retried.first, own)] {
            #expect(entry?.metadata["step"] == "remove a partial snapshot")
            #expect(entry?.metadata["digest"] == chainID.description)
            #expect(entry?.metadata["left"]?.hasPrefix(store.root + "/tmp-" + chainID.encoded.prefix(16)) == true)
            #expect(entry?.metadata["error"]?.contains("Operation not permitted") == true)
        }
        #expect(try FileSystem.list(store.root).count == 2, "both temporary directories are left")
        #expect(try store.all().isEmpty)
    }
}

extension ImageStoreCleanUpLogTests {
    @Test("a decryption that fails its checks and whose partial plaintext cannot be removed reports it for the caller's removal",
          .enabled(if: needsAttributes, "needs root and chattr"))
    func partialPlaintextLeft() async throws {
        let directory = try makeTestDirectory("cleanup-log")
        defer { cleanup(directory) }
        let captured = CapturedLogs()
        let kek = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let layer = try EncryptedLayer(EncryptedLayerTests.descriptor(
            hmac: EncryptedLayerTests.goodHMAC, annotations: [EncryptedLayer.attestationAgentAnnotation: try EncryptedLayerTests.packet(kek: kek)]))
        let options = try PrivateLayerOptions(json: EncryptedLayerTests.privateOptions, layer: layer.digest)
        var tampered = NISTCTRAES256.ciphertext
        tampered[17] ^= 1
        try FileSystem.makeDirectories(directory + "/layers")
        try FileSystem.writeAtomically(tampered, to: directory + "/blob", durable: false)
        try await withFileAttribute("a", on: directory + "/layers") {
            #expect(throws: FascoError.self) {
                try LayerDecryption.decrypt(blobPath: directory + "/blob", to: directory + "/layers/plain-0", layer: layer,
                                            options: options, logger: capturingLogger(captured))
            }
        }
        let retried = captured.retriedCleanUps
        #expect(retried.count == 1 && captured.cleanUpWarnings.isEmpty, "\(captured.entries)")
        #expect(retried.first?.metadata["step"] == "remove a decrypted layer that failed its checks")
        #expect(retried.first?.metadata["left"] == directory + "/layers/plain-0")
        #expect(retried.first?.metadata["digest"] == layer.digest.description)
        #expect(retried.first?.metadata["error"]?.contains("Operation not permitted") == true)
    }

    @Test("an unlock whose layer cannot be unpacked reports each decrypted file and directory it cannot remove, for the caller's rollback",
          .enabled(if: needsAttributes, "needs root and chattr"))
    func unlockLeftovers() async throws {
        let captured = CapturedLogs()
        let (store, root) = try store(captured)
        defer { cleanup(root) }
        // One encrypted layer: the NIST ciphertext, which decrypts (HMAC and digest right) to bytes that are no gzip.
        let kek = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let descriptor = EncryptedLayerTests.descriptor(
            hmac: EncryptedLayerTests.goodHMAC, annotations: [EncryptedLayer.attestationAgentAnnotation: try EncryptedLayerTests.packet(kek: kek)])
        try store.content.write(NISTCTRAES256.ciphertext, as: Digest.of(NISTCTRAES256.ciphertext))
        let config = ImageConfiguration(architecture: "amd64", os: "linux", rootfs: .init(diffIDs: [Digest.of(NISTCTRAES256.plaintext).description]))
        let record = try await store.record(ImageRecord(
            id: Digest.of(Array("an encrypted config".utf8)), repoTags: ["127.0.0.1:5000/fasco/encrypted:1"], repoDigests: [],
            manifestDigest: Digest.of(Array("an encrypted manifest".utf8)), config: config, layers: [descriptor],
            size: 64, createdAt: 0, pinned: false))
        let directory = root + "/containers/c1"
        try await store.prepareRootfs(image: record.id.description, owner: "c1", directory: directory)
        // Append-only: files and directories can be made in layers/, none removed or renamed.
        try FileSystem.makeDirectories(directory + "/layers")
        try await withFileAttribute("a", on: directory + "/layers") {
            await #expect(throws: FascoError.self) {
                try await store.unlockRootfs(image: record.id.description, directory: directory,
                                             keys: LayerKeys(resource: { (_: String) async throws(FascoError) -> [UInt8] in kek }))
            }
        }
        let retried = captured.retriedCleanUps
        #expect(captured.cleanUpWarnings.isEmpty, "\(captured.entries)")
        #expect(retried.map { $0.metadata["step"] } == [
            "remove a partial snapshot", "remove a decrypted layer that could not be unpacked",
            "remove the container's own layers after a failed unlock",
        ], "\(captured.entries)")
        #expect(retried.dropFirst().first?.metadata["left"] == directory + "/layers/plain-0")
        #expect(retried.last?.metadata["left"] == directory + "/layers")
        #expect(FileSystem.exists(directory + "/layers/plain-0"))
    }
}

extension ImageStoreCleanUpLogTests {
    @Test("a corrupt download whose partial file cannot be removed says which is left",
          .enabled(if: needsAttributes, "needs root and chattr"))
    func corruptDownloadLeft() async throws {
        let root = try makeTestDirectory("cleanup-log")
        defer { cleanup(root) }
        let captured = CapturedLogs()
        let store = try ContentStore(root: root + "/content", logger: capturingLogger(captured))
        let digest = Digest.of(Array("the real content".utf8))
        try await withFileAttribute("a", on: store.root + "/ingest") {
            let writer = try store.ingest(digest, size: 16)
            try Array("not the content!".utf8).withUnsafeBytes { try writer.append($0) }
            #expect { try writer.commit() } throws: { ($0 as? FascoError)?.code == .failedPrecondition }
        }
        let warnings = captured.cleanUpWarnings
        #expect(warnings.count == 1, "\(captured.entries)")
        #expect(warnings.first?.metadata["step"] == "remove a partial download that must not be resumed")
        #expect(warnings.first?.metadata["left"] == store.ingestPath(of: digest))
        #expect(warnings.first?.metadata["digest"] == digest.description)
        #expect(warnings.first?.metadata["error"]?.contains("Operation not permitted") == true)
        #expect(try store.partialDownloads().count == 1)
    }
}

extension ImageStoreCleanUpLogTests {
    @Test("an import whose scratch directory cannot be removed says which is left",
          .enabled(if: needsAttributes, "needs root and chattr"))
    func importScratchLeft() async throws {
        let captured = CapturedLogs()
        let (store, root) = try store(captured)
        defer { cleanup(root) }
        // An empty tar: neither an OCI layout nor a Docker archive.
        let archive = root + "/empty.tar"
        try FileSystem.writeAtomically([UInt8](repeating: 0, count: 1024), to: archive, durable: false)
        try await withFileAttribute("a", on: store.root) {
            await #expect { try await store.importImages(from: archive) } throws: { ($0 as? FascoError)?.code == .invalidArgument }
        }
        let warnings = captured.cleanUpWarnings
        #expect(warnings.count == 1, "\(captured.entries)")
        #expect(warnings.first?.metadata["step"] == "remove an import's scratch directory")
        #expect(warnings.first?.metadata["left"]?.hasPrefix(store.root + "/import-") == true)
        #expect(warnings.first?.metadata["error"]?.contains("Operation not permitted") == true)
    }
}

extension ImageStoreCleanUpLogTests {
    @Test("a layer that cannot be idmapped leaves a mount point that cannot be removed, and that is reported",
          .enabled(if: needsAttributes, "needs root and chattr"))
    func idmapMountPointLeft() async throws {
        let root = try makeTestDirectory("cleanup-log")
        defer { cleanup(root) }
        let captured = CapturedLogs()
        try FileSystem.makeDirectories(root + "/layer")
        try FileSystem.makeDirectories(root + "/lower")
        // No such user namespace: the mapping fails; the mount point it made cannot be removed.
        let mapping = RootfsIDMapping(userNamespace: root + "/no-such/ns/user", rootUID: 100_000, rootGID: 100_000)
        try await withFileAttribute("a", on: root + "/lower") {
            do { _ = try ImageStore.idmappedClones(of: [root + "/layer"], in: root + "/lower", mapping: mapping, logger: capturingLogger(captured)) } catch {}
        }
        let retried = captured.retriedCleanUps
        #expect(captured.cleanUpWarnings.isEmpty, "\(captured.entries)")
        #expect(retried.map { $0.metadata["step"] } == [
            "remove the mount point of a layer that could not be idmapped", "remove the directory of the idmapped clones",
        ], "\(captured.entries)")
        #expect(retried.map { $0.metadata["left"] } == [root + "/lower/0", root + "/lower"])
        #expect(!isMounted(root + "/lower/0"))
    }

    @Test("a clone that cannot be detached is a warning that names it")
    func cloneNotDetached() throws {
        let root = try makeTestDirectory("cleanup-log")
        defer { cleanup(root) }
        let captured = CapturedLogs()
        // Not a mount point, and not empty: the detach fails (EINVAL) and the directory stays,
        // as a clone that stays attached would.
        try FileSystem.makeDirectories(root + "/lower/0")
        try writeFile(root + "/lower/0/a-layer-file", "x")
        // A directory that is no mount point and empty is simply removed: nothing is left.
        try FileSystem.makeDirectories(root + "/lower/1")
        ImageStore.detachClones([root + "/lower/0", root + "/lower/1"], in: root + "/lower", logger: capturingLogger(captured))
        #expect(!FileSystem.exists(root + "/lower/1"))
        let warnings = captured.cleanUpWarnings
        #expect(warnings.count == 1, "\(captured.entries)")
        #expect(warnings.first?.metadata["step"] == "detach an idmapped clone of a layer")
        #expect(warnings.first?.metadata["left"] == root + "/lower/0")
        #expect(warnings.first?.metadata["error"]?.contains("cannot detach") == true)
        #expect(warnings.first?.metadata["error"]?.contains("cannot remove it") == true)
        #expect(captured.retriedCleanUps.map { $0.metadata["left"] } == [root + "/lower"], "its directory is not empty")
    }
}
