import FascoCore
import Foundation
@testable import ImageStore
import OCISpec
import Testing

/// The test-image kit's registries and what it pushed (Tests/images/kit.sh all).
enum Kit {
    static let images = ProcessInfo.processInfo.environment["FASCO_IMAGES"] ?? "/var/tmp/fasco-images"
    static let registryDirectory = ProcessInfo.processInfo.environment["FASCO_REGISTRY_DIR"] ?? "/var/tmp/fasco-registry"
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    struct Pushed: Decodable {
        var reference: String
        var manifestDigest: String
        var configDigest: String?
    }

    /// What the kit pushed, by reference; the tests need the kit, so its absence is a failure.
    static func pushed() throws -> [String: Pushed] {
        let url = URL(fileURLWithPath: images + "/pushed.json")
        guard let data = try? Data(contentsOf: url) else {
            throw FascoError.failedPrecondition("\(url.path) is missing: run Tests/images/kit.sh all (make test does)")
        }
        let list = try JSONDecoder().decode([Pushed].self, from: data)
        return Dictionary(list.map { ($0.reference, $0) }, uniquingKeysWith: { first, _ in first })
    }

    static func store(hosts: RegistryHosts = RegistryHosts(), cleanupDelay: Duration = .milliseconds(500)) throws -> (ImageStore, String) {
        let root = try makeTestDirectory("pull")
        let store = try ImageStore(root: root + "/images", cleanupDelay: cleanupDelay, sources: hosts.source)
        return (store, root)
    }
}

@Suite("pulls from the kit's real registries", .serialized)
struct PullTests {
    @Test("a plain-HTTP pull stores, unpacks and names the image")
    func pullBusybox() async throws {
        let pushed = try #require(try Kit.pushed()["127.0.0.1:5000/fasco/busybox:latest"])
        let (store, root) = try Kit.store()
        defer { cleanup(root) }
        let record = try await store.pull("127.0.0.1:5000/fasco/busybox:latest")
        #expect(record.id.description == pushed.configDigest)
        #expect(record.repoTags == ["127.0.0.1:5000/fasco/busybox:latest"])
        #expect(record.repoDigests == ["127.0.0.1:5000/fasco/busybox@\(pushed.manifestDigest)"])
        let top = try #require(record.chainIDs.last)
        #expect(fileType(store.snapshots.path(of: top) + "/bin/busybox") == S_IFREG)
        #expect(try store.content.partialDownloads().isEmpty)
        // Pulling another tag of the same image adds the name, not a second image.
        _ = try await store.pull("127.0.0.1:5000/fasco/busybox:1.36")
        let images = await store.images
        #expect(images.count == 1)
        #expect(Set(images[0].repoTags) == ["127.0.0.1:5000/fasco/busybox:latest", "127.0.0.1:5000/fasco/busybox:1.36"])
    }

    @Test("a multi-platform index resolves to this node's platform")
    func multiPlatform() async throws {
        let pushed = try #require(try Kit.pushed()["127.0.0.1:5000/fasco/multiarch:latest"])
        let (store, root) = try Kit.store()
        defer { cleanup(root) }
        let record = try await store.pull("127.0.0.1:5000/fasco/multiarch:latest")
        #expect(record.config.architecture == Platform.host.architecture)
        #expect(record.repoDigests == ["127.0.0.1:5000/fasco/multiarch@\(pushed.manifestDigest)"], "the index digest names it")
        #expect(record.manifestDigest.description != pushed.manifestDigest)
        let top = try #require(record.chainIDs.last)
        let platform = try #require(readText(store.snapshots.path(of: top) + "/etc/fasco-platform"))
        #expect(platform.trimmingCharacters(in: .whitespacesAndNewlines) == Platform.host.architecture)
    }

    @Test("whiteouts, opaque directories, links, devices and xattrs across gzip, zstd and plain layers")
    func layeredImage() async throws {
        let (store, root) = try Kit.store()
        defer { cleanup(root) }
        let record = try await store.pull("127.0.0.1:5000/fasco/layered:latest")
        #expect(record.layers.count == 4)
        let mountpoint = root + "/rootfs"
        try FileSystem.makeDirectories(mountpoint)
        try Overlay.mount(lowers: record.chainIDs.reversed().map { store.snapshots.path(of: $0) }, upper: nil, work: nil, at: mountpoint)
        defer { Overlay.unmount(mountpoint) }
        let (status, output) = try runTool(Kit.repositoryRoot + "/Tests/images/kit.sh", ["check-layered", mountpoint])
        #expect(status == 0, "kit.sh check-layered: \(output)")
    }

    @Test("a corrupt blob fails the pull with a digest error and leaves nothing under its digest")
    func corruptBlob() async throws {
        let (store, root) = try Kit.store()
        defer { cleanup(root) }
        await #expect {
            try await store.pull("127.0.0.1:5000/fasco/corrupt:latest")
        } throws: { error in
            let error = error as? FascoError
            return error?.code == .failedPrecondition && error?.message.contains("does not match its digest") == true
        }
        #expect(await store.images.isEmpty)
        #expect(try store.content.partialDownloads().isEmpty, "corrupt partial content is not kept for resuming")
        for digest in try store.content.allDigests() {
            #expect(throws: Never.self) { _ = try store.content.read(digest, limit: 64 << 20) }
        }
    }

    @Test("basic auth: credentials work, a wrong password and none are UNAUTHENTICATED")
    func basicAuth() async throws {
        let (store, root) = try Kit.store()
        defer { cleanup(root) }
        let reference = "127.0.0.1:5001/fasco/busybox:latest"
        await #expect { try await store.pull(reference) } throws: { ($0 as? FascoError)?.code == .unauthenticated }
        await #expect {
            try await store.pull(reference, credentials: RegistryCredentials(username: "fasco", password: "wrong"))
        } throws: { error in
            let error = error as? FascoError
            return error?.code == .unauthenticated && error?.message.contains("127.0.0.1:5001") == true
        }
        let record = try await store.pull(reference, credentials: RegistryCredentials(username: "fasco", password: "s3cret"))
        #expect(record.repoTags == [reference])
    }

    @Test("TLS with the registry's CA file; without it a clear TLS error")
    func tls() async throws {
        let reference = "127.0.0.1:5443/fasco/busybox:latest"
        let (untrusted, root1) = try Kit.store(hosts: RegistryHosts(hosts: ["127.0.0.1:5443": .init(plainHTTP: false)]))
        defer { cleanup(root1) }
        await #expect { try await untrusted.pull(reference) } throws: { error in
            let error = error as? FascoError
            return error?.code == .unavailable && String(describing: error).lowercased().contains("certificate")
        }
        let hosts = RegistryHosts(hosts: ["127.0.0.1:5443": .init(caFile: Kit.registryDirectory + "/ca.crt", plainHTTP: false)])
        let (trusted, root2) = try Kit.store(hosts: hosts)
        defer { cleanup(root2) }
        let record = try await trusted.pull(reference)
        #expect(record.repoTags == [reference])
    }

    @Test("mirrors serve upstream names; the upstream is not contacted")
    func mirrors() async throws {
        let pushed = try #require(try Kit.pushed()["127.0.0.1:5000/e2e-test-images/busybox:1.29-2"])
        let hosts = RegistryHosts(hosts: ["registry.k8s.io": .init(mirrors: ["http://127.0.0.1:1", "http://127.0.0.1:5000"])])
        let (store, root) = try Kit.store(hosts: hosts)
        defer { cleanup(root) }
        let record = try await store.pull("registry.k8s.io/e2e-test-images/busybox:1.29-2")
        #expect(record.repoTags == ["registry.k8s.io/e2e-test-images/busybox:1.29-2"])
        #expect(record.repoDigests == ["registry.k8s.io/e2e-test-images/busybox@\(pushed.manifestDigest)"])
    }

    @Test("concurrent pulls of one image share the work and agree")
    func concurrentPulls() async throws {
        let (store, root) = try Kit.store()
        defer { cleanup(root) }
        let records = try await withThrowingTaskGroup(of: ImageRecord.self) { group in
            for _ in 0..<6 { group.addTask { try await store.pull("127.0.0.1:5000/fasco/big:latest") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(records.map(\.id)).count == 1)
        #expect(await store.images.count == 1)
        let expected = Set(records[0].layers.map(\.digest) + [records[0].id.description, records[0].manifestDigest.description])
        #expect(Set(try store.content.allDigests().map(\.description)) == expected, "each blob stored once")
        #expect(Set(try store.snapshots.all()) == Set(records[0].chainIDs))
    }
}

func runTool(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
