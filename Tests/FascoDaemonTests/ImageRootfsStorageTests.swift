@testable import FascoDaemon
import FascoCore
import Foundation
@testable import ImageStore
import LogCapture
import OCISpec
import RealmCore
import Testing
import TestSupport

@Suite("container storage from the image store")
struct ImageRootfsStorageTests {
    @Test("at start, bundles of unknown containers are swept and what a crash left in the trash is deleted")
    func sweepAfterCrash() async throws {
        let root = try FileSystem.makeTemporaryDirectory(prefix: "fasco-storage-")
        defer { try? FileSystem.removeTree(root) }
        let images = try ImageStore(root: root + "/images", sources: { _, _ in UnreachableSource() })
        do {
            let directory = root + "/containers"
            let storage = try ImageRootfsStorage(images: images, directory: directory)
            // A crash between a removal and its background clean-up leaves the trash; one during
            // the sweep of an earlier start leaves the trash under a name of its own.
            let known = try RealmID(parsing: "0d" + String(repeating: "0", count: 62))
            for file in [".trash/0a-1/upper/etc/hostname", ".trash-77/0b-2/work/x", "0c/upper/tmp/x", "\(known)/upper/tmp/y"] {
                try FileSystem.makeDirectories(directory + "/" + file.split(separator: "/").dropLast().joined(separator: "/"), mode: 0o755)
                try FileSystem.writeAtomically(Array("left".utf8), to: directory + "/" + file)
            }

            let swept = try await storage.sweep(keeping: [known])
            #expect(swept == ["0c"])
            try await images.settle()
            #expect(try FileSystem.list(directory) == [known.value])
            #expect(FileSystem.exists(directory + "/" + known.value + "/upper/tmp/y"))
        }
    }

    @Test("a clean-up of a container's root filesystem that fails is logged with the container's and its pod's IDs",
          .enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/chattr"), "needs root and chattr"))
    func cleanUpNamesTheContainer() async throws {
        let root = try FileSystem.makeTemporaryDirectory(prefix: "fasco-storage-")
        defer { try? FileSystem.removeTree(root) }
        let captured = CapturedLogs()
        let images = try ImageStore(root: root + "/images", logger: capturingLogger(captured), sources: { _, _ in UnreachableSource() })
        let diffID = Digest.of(Array("a layer".utf8))
        try images.snapshots.create(diffID, parents: []) { (directory: String) throws(FascoError) in
            try FileSystem.writeAtomically(Array("hi".utf8), to: directory + "/hello")
        }
        let record = try await images.record(ImageRecord(
            id: Digest.of(Array("a config".utf8)), repoTags: ["127.0.0.1:5000/fasco/one-layer:1"], repoDigests: [],
            manifestDigest: Digest.of(Array("a manifest".utf8)),
            config: ImageConfiguration(architecture: "amd64", os: "linux", rootfs: .init(diffIDs: [diffID.description])),
            layers: [Descriptor(mediaType: MediaType.ociLayerGzip, digest: Digest.of(Array("a blob".utf8)).description, size: 6)],
            size: 6, createdAt: 0, pinned: false))
        let storage = try ImageRootfsStorage(images: images, directory: root + "/containers")
        let pod = RealmID.generate()
        let container = ContainerRealm(systemRealm: pod, metadata: ContainerRealmMetadata(name: "app", attempt: 0), image: "one-layer",
                                       imageID: record.id.description, createdAt: 0)
        let running = RunningSystemRealm(supervisorPID: 0, directory: root, networkNamespace: nil, ipcNamespace: nil, utsNamespace: nil,
                                         pidNamespace: nil, files: [:], shmPath: "", cgroupParent: "", addresses: [])
        // A file where the overlay's work directory goes, which cannot be removed: the mount and its rollback fail.
        let bundle = storage.bundleDirectory(of: container)
        try FileSystem.makeDirectories(bundle)
        try FileSystem.writeAtomically(Array("in the way".utf8), to: bundle + "/work")
        try chattr("+i", bundle + "/work")
        defer { try? chattr("-i", bundle + "/work") }
        await #expect(throws: FascoError.self) { _ = try await storage.prepare(container, pod: running) }
        let warning = try #require(captured.cleanUpWarnings.first, "\(captured.entries)")
        #expect(warning.metadata["containerID"] == container.id.value && warning.metadata["realm"] == container.id.value)
        #expect(warning.metadata["podSandboxID"] == pod.value && warning.metadata["left"] == bundle)
    }

    private func chattr(_ change: String, _ path: String) throws {
        let (status, _, errors) = try runCommand("/usr/bin/chattr", [change, path])
        guard status == 0 else { throw FascoError.internal("chattr \(change) \(path): \(errors)") }
    }
}
