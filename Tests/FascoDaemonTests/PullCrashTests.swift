import CRIAPI
import FascoCore
import Foundation
import GRPCTransport
import Testing
import TestSupport

@Suite("image pulls survive kill -9", .serialized)
struct PullCrashTests {
    static let image = "127.0.0.1:5000/fasco/big:latest"

    /// Whether a pull is visibly under way in `root`: a partial download or a half-built snapshot.
    static func midPull(_ root: URL) -> Bool {
        let ingest = (try? FileManager.default.contentsOfDirectory(atPath: root.path + "/images/content/ingest")) ?? []
        let snapshots = (try? FileManager.default.contentsOfDirectory(atPath: root.path + "/images/snapshots")) ?? []
        return !ingest.isEmpty || snapshots.contains { $0.hasPrefix("tmp-") }
    }

    @Test("a daemon killed mid-pull restarts clean and the next pull completes")
    func killMidPull() async throws {
        guard FileManager.default.fileExists(atPath: "/var/tmp/fasco-images/pushed.json") else {
            Issue.record("the test-image kit has not run (Tests/images/kit.sh all; make test runs it)")
            return
        }
        var caught = false
        for _ in 0..<8 where !caught {
            let daemon = try DaemonProcess()
            try await daemon.waitUntilServing()
            let root = daemon.directory.appendingPathComponent("root")
            let endpoint = daemon.endpoint
            let pull = Task {
                let channel = GRPCChannel(target: endpoint)
                defer { channel.close() }
                _ = try? await ImageServiceClient(channel: channel).pullImage(PullImageRequest(image: ImageSpec(image: Self.image)))
            }
            let start = ContinuousClock.now
            while !Self.midPull(root) && ContinuousClock.now - start < .seconds(20) {
                try await Task.sleep(for: .microseconds(500))
            }
            caught = Self.midPull(root)
            daemon.signal(SIGKILL)
            _ = await daemon.waitForExit()
            await pull.value
            if !caught {
                await daemon.stop()
                continue
            }
            // Restart on the same root and pull again.
            let again = try DaemonProcess(directory: daemon.directory)
            try await withCleanUp({ await again.stop() }) {
                try await again.waitUntilServing()
                let channel = GRPCChannel(target: again.endpoint)
                defer { channel.close() }
                let client = ImageServiceClient(channel: channel)
                let response = try await client.pullImage(PullImageRequest(image: ImageSpec(image: Self.image)), timeout: .seconds(300))
                #expect(response.imageRef.hasPrefix("sha256:"))
                let status = try await client.imageStatus(ImageStatusRequest(image: ImageSpec(image: Self.image)))
                #expect(status.image?.repoTags == [Self.image])
                #expect(!Self.midPull(root), "no partial download or half-built snapshot is left")
                // Every stored blob is whole: its content hashes to its name.
                let blobs = root.path + "/images/content/blobs/sha256"
                for name in try FileManager.default.contentsOfDirectory(atPath: blobs) {
                    let data = try Data(contentsOf: URL(fileURLWithPath: blobs + "/" + name))
                    let (status, output, _) = try runCommand("/usr/bin/sha256sum", [blobs + "/" + name])
                    #expect(status == 0 && output.hasPrefix(name), "blob \(name) (\(data.count) bytes) is corrupt")
                }
            }
        }
        #expect(caught, "the pull was never caught midway in 8 attempts")
    }
}
