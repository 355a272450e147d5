@testable import FascoDaemon
import FascoCore
import ImageStore
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
}
